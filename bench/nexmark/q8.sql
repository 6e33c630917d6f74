-- Nexmark q8, new users: the people who opened an auction in the same 10 s tumbling window in
-- which they registered, with the window's start (Flink's q8, 10 s windows as in Flink's suite).
-- Flink's q8 joins two windowed aggregates (people per window, sellers per window) on the id and
-- the window. Here one windowed join pairs each person with the auctions they opened at most
-- 10 s apart, the WHERE keeps the pairs in the same window, and a tumbling window over the join's
-- output on the person's time (the window both share) gives one row per person and window, when
-- the window closes. GRACE: how far one input task may run ahead of another before its
-- partner's records count as late; the windows wait for it too.
-- People and auctions of `sluice bench --nexmark` (topic nexmark, told apart by event_type; the
-- WHERE conditions on one side run before the join, so bids never reach it). Event time is
-- dateTime, with Flink's 4 s disorder.
CREATE STREAM person (event_type INT, id BIGINT, name VARCHAR, city VARCHAR, state VARCHAR,
                      "dateTime" BIGINT)
  WITH (topic = 'nexmark', format = 'json', timestamp = 'dateTime', watermark_delay = '4s',
        idle_timeout = '5s');
CREATE STREAM auction (event_type INT, id BIGINT, seller BIGINT, category BIGINT,
                       "dateTime" BIGINT, expires BIGINT)
  WITH (topic = 'nexmark', format = 'json', timestamp = 'dateTime', watermark_delay = '4s',
        idle_timeout = '5s');

CREATE STREAM nexmark_sql_q8 WITH (topic = 'nexmark-sql-q8') AS
  SELECT p.id, p.name, window_start AS starttime
  FROM person p JOIN auction a WITHIN INTERVAL '10' SECOND GRACE INTERVAL '120' SECOND
    ON p.id = a.seller
  WHERE p.event_type = 0 AND a.event_type = 1 AND p."dateTime" / 10000 = a."dateTime" / 10000
  GROUP BY p.id, p.name, TUMBLE(p."dateTime", INTERVAL '10' SECOND);
