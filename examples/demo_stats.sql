-- The SQL query `make run` starts (scripts/run-dev): per-kind counts, largest and p99 amounts
-- and battery levels of the demo workload (`sluice bench --payload mix` into topic demo: chat,
-- transaction and iot events) in 10 s tumbling event-time windows, one row per kind and window
-- when the window closes, into topic demo-stats. Watch it:
--   sluice consume demo-stats -X isolation.level=read_committed
--   events       events of the kind in the window
--   max_amount   the largest transaction amount (DECIMAL, exact); NULL for chat and iot
--   p99_amount   the 99th percentile of the transaction amounts (APPROX_PERCENTILE: within 1%
--                of the exact value, rounded to cents); NULL for chat and iot
--   avg_battery  the mean battery level of the iot devices; NULL for chat and transactions
--   min_battery  the lowest one
CREATE STREAM demo_events (ts TIMESTAMP, id VARCHAR, user VARCHAR,
                           body ROW(kind VARCHAR, amount DECIMAL(12,2), battery INT))
  WITH (topic = 'demo', format = 'json', timestamp = 'ts', watermark_delay = '2s',
        idle_timeout = '5s');

CREATE STREAM demo_stats WITH (topic = 'demo-stats') AS
  SELECT body.kind AS kind, window_start, window_end, COUNT(*) AS events,
         MAX(body.amount) AS max_amount, APPROX_PERCENTILE(body.amount, 0.99) AS p99_amount,
         AVG(body.battery) AS avg_battery, MIN(body.battery) AS min_battery
  FROM demo_events
  GROUP BY body.kind, TUMBLE(ts, INTERVAL '10' SECOND)
  EMIT FINAL;
