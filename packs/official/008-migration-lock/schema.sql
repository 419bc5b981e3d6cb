CREATE TABLE orders (
    id bigserial PRIMARY KEY,
    customer text NOT NULL,
    total_cents integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO orders (customer, total_cents, created_at)
SELECT 'customer-' || n, 500 + (n * 37) % 20000, now() - (n || ' minutes')::interval
FROM generate_series(1, 5000) AS n;
