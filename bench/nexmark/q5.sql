-- Nexmark q5, hot items: bids per auction in hopping windows of 10 s every 2 s (Nexmark's 1 h
-- every 1 min, scaled as in Flink's suite), then per window the largest count and the number of
-- auctions bid on. One statement: the subquery counts per auction and window, the outer query
-- groups its rows by their window (TUMBLE on the subquery's window_start, 2 s: one hop window's
-- rows per outer window), in one pipeline with no topic between the two aggregates but the
-- repartition by window. Flink's q5 joins the two to name the auction(s) holding the maximum;
-- this version stops at the maximum (the C version in examples/nexmark.c names them).
-- A subquery row comes out when its window ends, so the outer windows wait for the subquery's
-- window size (10 s) past their end: a row counts as on time until the watermark passes its own
-- window's end, as if its event time were that end (docs/sql.md, Subqueries in FROM).
-- Bids of `sluice bench --nexmark` (topic nexmark: people, auctions and bids in one topic, told
-- apart by event_type; people and auctions have none of a bid's columns but dateTime and extra,
-- and are filtered out by event_type = 2). Event time is dateTime, with Flink's 4 s disorder.
-- Bids are keyed by auction id (key = 'auction'), so the planner counts per auction straight
-- off the source, without a repartition (EXPLAIN shows the plan).
CREATE STREAM bid (event_type INT, auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR,
                   url VARCHAR, "dateTime" BIGINT, extra VARCHAR)
  WITH (topic = 'nexmark', format = 'json', key = 'auction', timestamp = 'dateTime',
        watermark_delay = '4s', idle_timeout = '5s');

CREATE STREAM nexmark_sql_q5 WITH (topic = 'nexmark-sql-q5') AS
  SELECT window_start AS wstart, MAX(num) AS maxn, COUNT(*) AS auctions
  FROM (SELECT auction, window_start AS wstart, COUNT(*) AS num
        FROM bid WHERE event_type = 2
        GROUP BY auction, HOP("dateTime", INTERVAL '2' SECOND, INTERVAL '10' SECOND)) AS c
  GROUP BY TUMBLE(wstart, INTERVAL '2' SECOND);
