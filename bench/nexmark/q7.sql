-- Nexmark q7, highest bid: the highest price per 10 s tumbling window. Flink's q7 joins it back
-- to the bids to name the bid(s) holding it; the SQL front end has no JOIN yet, so this version
-- stops at the price.
-- Bids of `sluice bench --nexmark` (topic nexmark: people, auctions and bids in one topic, told
-- apart by event_type; people and auctions have none of a bid's columns but dateTime and extra,
-- and are filtered out by event_type = 2). Event time is dateTime, with Flink's 4 s disorder.
-- Bids are keyed by auction id (key = 'auction'), so the planner pre-aggregates per auction
-- and window before the re-key: only those partial maxima cross the repartition topic.
CREATE STREAM bid (event_type INT, auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR,
                   url VARCHAR, "dateTime" BIGINT, extra VARCHAR)
  WITH (topic = 'nexmark', format = 'json', key = 'auction', timestamp = 'dateTime',
        watermark_delay = '4s', idle_timeout = '5s');

CREATE STREAM nexmark_sql_q7 WITH (topic = 'nexmark-sql-q7') AS
  SELECT window_start, window_end, MAX(price) AS price, COUNT(*) AS bids
  FROM bid WHERE event_type = 2
  GROUP BY TUMBLE("dateTime", INTERVAL '10' SECOND);
