-- Nexmark q5, hot items: bids per auction in hopping windows of 10 s every 2 s (Nexmark's 1 h
-- every 1 min, scaled as in Flink's suite), then per window the largest count. Flink's q5 joins
-- the two to name the auction(s) holding it; the SQL front end has no JOIN yet, so this version
-- stops at the maximum (topic nexmark-sql-q5) and leaves the per-auction counts in
-- nexmark-sql-q5-counts. The second step reads the first's output topic as a stream whose event
-- time is the window start. The first step's tasks close their windows at different times, and
-- one task may publish all of its windows before another publishes any (after a backlog, all of
-- a run's windows at once), so the second step's watermark trails by more than a run's span of
-- window starts: 120 s here, for the tests' 70 s of windows.
-- Bids of `sluice bench --nexmark` (topic nexmark: people, auctions and bids in one topic, told
-- apart by event_type; people and auctions have none of a bid's columns but dateTime and extra,
-- and are filtered out by event_type = 2). Event time is dateTime, with Flink's 4 s disorder.
-- Bids are keyed by auction id (key = 'auction'), so the planner counts per auction straight
-- off the source, without a repartition (EXPLAIN shows the plan).
CREATE STREAM bid (event_type INT, auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR,
                   url VARCHAR, "dateTime" BIGINT, extra VARCHAR)
  WITH (topic = 'nexmark', format = 'json', key = 'auction', timestamp = 'dateTime',
        watermark_delay = '4s', idle_timeout = '5s');

CREATE STREAM q5_counts (auction BIGINT, wstart TIMESTAMP, wend TIMESTAMP, num BIGINT)
  WITH (topic = 'nexmark-sql-q5-counts', format = 'json', timestamp = 'wstart',
        watermark_delay = '120s', idle_timeout = '5s');

INSERT INTO q5_counts
  SELECT auction, window_start AS wstart, window_end AS wend, COUNT(*) AS num
  FROM bid WHERE event_type = 2
  GROUP BY auction, HOP("dateTime", INTERVAL '2' SECOND, INTERVAL '10' SECOND);

CREATE STREAM nexmark_sql_q5 WITH (topic = 'nexmark-sql-q5') AS
  SELECT window_start AS wstart, MAX(num) AS maxn, COUNT(*) AS auctions
  FROM q5_counts
  GROUP BY TUMBLE(wstart, INTERVAL '2' SECOND);
