"""What redacting every log line costs: ``annotate.redaction`` on the CLI's logging path.

Prints microseconds per log record through a handler that formats it (as the CLI's stderr
handler does, writing to /dev/null), without and with ``install_log_redaction``, and per
``redact`` call on one error message, with 3 known secrets (a Label Studio token, a backend
password, a /setup token).

    python bench/redaction.py [--records 200000]
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from annotate.redaction import install_log_redaction, redact, remember_secret


def per_record(logger: logging.Logger, n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        logger.info("job %s: trained on %d pairs; now serving %s", "3f2a9c1b", i, "baseline-20261202")
    return (time.perf_counter() - start) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=200_000)
    args = parser.parse_args()
    for _ in range(3):
        remember_secret(secrets.token_hex(20))
    handler = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115 (lives as long as the run)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("bench.redaction")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    per_record(logger, 2000)  # warm up
    plain = min(per_record(logger, args.records) for _ in range(3))
    install_log_redaction()
    redacted = min(per_record(logger, args.records) for _ in range(3))
    message = ("pulling project 'seeds': the connection to Label Studio at http://127.0.0.1:8080 failed "
               "(RemoteProtocolError: Server disconnected without sending a response.); what was done "
               "before it is kept, so running the command again continues")
    start = time.perf_counter()
    for _ in range(args.records):
        redact(message)
    per_redact = (time.perf_counter() - start) / args.records * 1e6
    print(f"python {sys.version.split()[0]}, {args.records} records, 3 known secrets")
    print(f"log record, formatted and written: {plain:.2f} us plain, {redacted:.2f} us redacted "
          f"(+{redacted - plain:.2f} us)")
    print(f"redact() of a {len(message)}-character error message: {per_redact:.2f} us")


if __name__ == "__main__":
    main()
