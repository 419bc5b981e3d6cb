-- The shop's database, made at build time. Your incident's schema and data go here.
CREATE ROLE app LOGIN PASSWORD 'shop-db-2024';
CREATE DATABASE shop OWNER app;
\connect shop
SET ROLE app;
CREATE TABLE orders (
    id         bigserial PRIMARY KEY,
    customer   text NOT NULL,
    total      numeric(10, 2) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO orders (customer, total)
SELECT 'customer-' || n, round((random() * 200 + 5)::numeric, 2) FROM generate_series(1, 200) AS n;
