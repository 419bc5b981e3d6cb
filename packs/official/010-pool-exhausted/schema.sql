CREATE ROLE api LOGIN PASSWORD 'api-c4t4log-91';
CREATE ROLE batch LOGIN PASSWORD 'batch-inv-55x';
CREATE ROLE ops LOGIN SUPERUSER PASSWORD 'ops-on-call-2k';
CREATE DATABASE catalog OWNER api;
\connect catalog
SET ROLE api;
CREATE TABLE products (id serial PRIMARY KEY, sku text NOT NULL, name text NOT NULL, price_cents integer NOT NULL);
INSERT INTO products (sku, name, price_cents)
SELECT 'SKU-' || n, 'Product ' || n, 199 + (n * 53) % 9000 FROM generate_series(1, 200) AS n;
CREATE TABLE invoices (id serial PRIMARY KEY, customer text NOT NULL, total_cents integer NOT NULL, exported boolean NOT NULL DEFAULT false);
INSERT INTO invoices (customer, total_cents)
SELECT 'customer-' || n, 1000 + (n * 71) % 50000 FROM generate_series(1, 3000) AS n;
GRANT SELECT, UPDATE ON invoices TO batch;
