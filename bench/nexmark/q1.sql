-- Nexmark q1, currency conversion: every bid with its price in euros (price x 0.908; 0.908 is an
-- exact DECIMAL, so the result is a DECIMAL with 3 decimals, as in Flink's q1).
-- Bids of `sluice bench --nexmark` (topic nexmark: people, auctions and bids in one topic, told
-- apart by event_type; people and auctions have none of a bid's columns but dateTime and extra,
-- and are filtered out by event_type = 2). Event time is dateTime, with Flink's 4 s disorder.
CREATE STREAM bid (event_type INT, auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR,
                   url VARCHAR, "dateTime" BIGINT, extra VARCHAR)
  WITH (topic = 'nexmark', format = 'json', timestamp = 'dateTime', watermark_delay = '4s',
        idle_timeout = '5s');

CREATE STREAM nexmark_sql_q1 WITH (topic = 'nexmark-sql-q1') AS
  SELECT auction, bidder, 0.908 * price AS price, "dateTime", extra
  FROM bid WHERE event_type = 2;
