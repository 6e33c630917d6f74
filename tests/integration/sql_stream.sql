-- The queries of test_sql_stream.sh (events from sql_stream.py): one file, four persistent
-- queries, run by `sluice run sql_stream.sql`.
CREATE STREAM events (id BIGINT, grp VARCHAR, user VARCHAR, qty INT, amount DOUBLE,
                      geo ROW(city VARCHAR), ts TIMESTAMP, late BOOLEAN)
  WITH (topic = 'events', format = 'json', timestamp = 'ts', watermark_delay = '2s',
        idle_timeout = '5s', late_topic = 'events-late');

CREATE STREAM per_user WITH (topic = 'sql-tumble') AS
  SELECT user, window_start, window_end, COUNT(*) AS n, SUM(qty) AS total_qty,
         MAX(amount) AS max_amount
  FROM events WHERE grp = 'u'
  GROUP BY user, TUMBLE(ts, INTERVAL '10' SECOND) EMIT FINAL;

CREATE STREAM per_user_hop WITH (topic = 'sql-hop') AS
  SELECT user, window_start, window_end, COUNT(*) AS n FROM events WHERE grp = 'u'
  GROUP BY user, HOP(ts, INTERVAL '5' SECOND, INTERVAL '10' SECOND);

CREATE STREAM sessions WITH (topic = 'sql-session') AS
  SELECT user, window_start, window_end, COUNT(*) AS n FROM events WHERE grp = 's'
  GROUP BY user, SESSION(ts, INTERVAL '5' SECOND);

CREATE STREAM big WITH (topic = 'sql-big') AS
  SELECT id, user, UPPER(geo.city) AS city, amount * 2 AS double_amount,
         CASE WHEN qty > 5 THEN 'bulk' ELSE 'single' END AS size
  FROM events WHERE amount > 90 AND grp = 'u' AND late IS NULL;
