"""Month-end invoice export: stages the invoices in batches (one connection per batch),
then uploads the staged batches."""

import sys
import time

import psycopg2

BATCH_SIZE = 50


def log(message: str) -> None:
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} invoice-export: {message}", file=sys.stderr, flush=True)


def main() -> None:
    batches = []
    offset = 0
    while True:
        try:
            conn = psycopg2.connect(
                host="db", dbname="catalog", user="batch", password="batch-inv-55x",
                application_name="invoice-export", connect_timeout=3,
            )
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("SELECT id, total_cents FROM invoices ORDER BY id OFFSET %s LIMIT %s", (offset, BATCH_SIZE))
                rows = cur.fetchall()
            batches.append((conn, rows))
            offset = (offset + BATCH_SIZE) % 3000
            log(f"batch {len(batches)}: {len(rows)} invoices staged")
        except psycopg2.OperationalError as exc:
            log(f"batch {len(batches) + 1}: waiting for a database connection: {' '.join(str(exc).split())}")
            time.sleep(1)
        for conn, _ in batches:  # keep the staged batches' connections alive
            with conn.cursor() as cur:
                cur.execute("SELECT 1")
        time.sleep(0.2)


if __name__ == "__main__":
    try:
        main()
    except psycopg2.Error as exc:
        log(f"export aborted: {' '.join(str(exc).split())}")
        sys.exit(1)
