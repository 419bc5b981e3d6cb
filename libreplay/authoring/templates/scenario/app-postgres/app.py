"""The shop API: orders straight from Postgres, one connection per request. Replace it with
your incident's service. /health runs a query, so it fails when the database cannot be used."""

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg2

PORT = int(os.environ.get("PORT", "8000"))


def count_orders():
    connection = psycopg2.connect(
        host=os.environ["DB_HOST"], dbname=os.environ["DB_NAME"], user=os.environ["DB_USER"],
        password=os.environ["DB_PASSWORD"], connect_timeout=2, application_name="shop-api",
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM orders")
            return cursor.fetchone()[0]
    finally:
        connection.close()


class Shop(BaseHTTPRequestHandler):
    server_version = "shop-api/2.7"

    def do_GET(self):
        try:
            orders = count_orders()
        except psycopg2.Error as exc:
            print(f"shop-api: database error: {' '.join(str(exc).split())}", file=sys.stderr)
            self.reply(503, {"error": "database unavailable"})
            return
        self.reply(200, {"status": "ok", "orders": orders})

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


if __name__ == "__main__":
    print(f"shop-api listening on 0.0.0.0:{PORT}, database {os.environ.get('DB_HOST')}")
    ThreadingHTTPServer(("0.0.0.0", PORT), Shop).serve_forever()
