// kafkajs with SASL OAUTHBEARER: a valid token (signed by the test script) produces; a token
// signed by another key is refused with SASL_AUTHENTICATION_FAILED.
// usage: node oauth_kafkajs.js HOSTPORT GOOD_TOKEN BAD_TOKEN
const { Kafka, logLevel } = require('kafkajs')

const [broker, good, bad] = process.argv.slice(2)
const client = (token) => new Kafka({
  clientId: 'kjs-oauth',
  brokers: [broker],
  logLevel: logLevel.NOTHING,
  retry: { retries: 0 },
  sasl: { mechanism: 'oauthbearer', oauthBearerProvider: async () => ({ value: token }) }
})

async function main () {
  const producer = client(good).producer()
  await producer.connect()
  await producer.send({ topic: 'oauth-kjs', messages: [{ value: 'from-kafkajs' }] })
  await producer.disconnect()
  console.log('ok: kafkajs OAUTHBEARER produce')
  const refused = client(bad).producer()
  try {
    await refused.connect()
    throw new Error('a token signed by another key was accepted')
  } catch (e) {
    if (!/SASL_AUTHENTICATION_FAILED|Authentication failed/.test(String(e.type) + e.message)) throw e
    console.log('ok: kafkajs refused: ' + e.message.slice(0, 100))
  }
}

main().catch((e) => { console.error(e); process.exit(1) })
