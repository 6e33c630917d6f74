-- Nexmark q6, average selling price per seller: Nexmark's q6 averages the closing prices of each
-- seller's last 10 closed auctions (Flink's SQL: AVG(price) OVER (PARTITION BY seller ORDER BY
-- dateTime ROWS BETWEEN 10 PRECEDING AND CURRENT ROW), which Flink's streaming SQL does not
-- support). sluice's SQL has no OVER windows either; this is the closest form it has: a running
-- average over *all* of a seller's closed auctions, one row per closed auction, with the number
-- of auctions it covers (a seller's row with auctions <= 10 is exactly Nexmark's q6 value; past
-- 10 auctions Nexmark's would forget the older ones and this does not).
-- Step 1 is q4's (bench/nexmark/q4.sql): per auction, the highest bid between its start and its
-- expiry, emitted once when the watermark passes the expiry; here with the seller, into topic
-- nexmark-sql-q6-closed. Step 2 averages those per seller.
-- Auctions and bids of `sluice bench --nexmark` (topic nexmark, told apart by event_type; the
-- WHERE conditions on one side run before the join, so people never reach it). Event time is
-- dateTime, with Flink's 4 s disorder.
CREATE STREAM auction (event_type INT, id BIGINT, seller BIGINT, category BIGINT,
                       "dateTime" BIGINT, expires BIGINT)
  WITH (topic = 'nexmark', format = 'json', timestamp = 'dateTime', watermark_delay = '4s',
        idle_timeout = '5s');
CREATE STREAM bid (event_type INT, auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR,
                   url VARCHAR, "dateTime" BIGINT, extra VARCHAR)
  WITH (topic = 'nexmark', format = 'json', timestamp = 'dateTime', watermark_delay = '4s',
        idle_timeout = '5s');

CREATE STREAM q6_closed (auction BIGINT, seller BIGINT, price BIGINT)
  WITH (topic = 'nexmark-sql-q6-closed', format = 'json');

INSERT INTO q6_closed
  SELECT a.id AS auction, a.seller, MAX(b.price) AS price
  FROM auction a JOIN bid b WITHIN INTERVAL '20' SECOND GRACE INTERVAL '60' SECOND
    ON a.id = b.auction
  WHERE a.event_type = 1 AND b.event_type = 2 AND b."dateTime" >= a."dateTime"
    AND b."dateTime" <= a.expires
  GROUP BY a.id, a.seller, TUMBLE(a.expires, INTERVAL '1' SECOND);

CREATE STREAM nexmark_sql_q6 WITH (topic = 'nexmark-sql-q6') AS
  SELECT seller, AVG(price) AS avg_price, COUNT(*) AS auctions
  FROM q6_closed
  GROUP BY seller;
