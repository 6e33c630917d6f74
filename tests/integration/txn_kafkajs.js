// kafkajs transactions against sluice: a committed and an aborted transaction (with
// sendOffsets), read back by a read_committed consumer group, which must see only the committed.
const { Kafka, logLevel } = require('kafkajs')

const broker = process.argv[2]
const kafka = new Kafka({ clientId: 'it-tx', brokers: [broker], logLevel: logLevel.WARN })

async function main () {
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ topics: [{ topic: 'kjs-tx', numPartitions: 2 }], waitForLeaders: true })

  const producer = kafka.producer({ transactionalId: 'kjs-tx-1', idempotent: true, maxInFlightRequests: 1 })
  await producer.connect()
  for (const [name, commit] of [['a', true], ['b', false], ['c', true]]) {
    const txn = await producer.transaction()
    const messages = []
    for (let i = 0; i < 50; i++) messages.push({ key: 'k' + i, value: name + i })
    await txn.send({ topic: 'kjs-tx', messages })
    await txn.sendOffsets({ consumerGroupId: 'kjs-tx-src', topics: [{ topic: 'kjs-tx', partitions: [{ partition: 0, offset: String(commit ? 7 : 99) }] }] })
    if (commit) await txn.commit(); else await txn.abort()
  }
  await producer.disconnect()

  const committed = await admin.fetchOffsets({ groupId: 'kjs-tx-src', topics: ['kjs-tx'] })
  const p0 = committed[0].partitions.find(p => p.partition === 0)
  if (p0.offset !== '7') throw new Error('sendOffsets of the committed transaction not visible: ' + JSON.stringify(committed))

  const consumer = kafka.consumer({ groupId: 'kjs-tx-reader', readUncommitted: false })
  await consumer.connect()
  await consumer.subscribe({ topic: 'kjs-tx', fromBeginning: true })
  const seen = []
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timed out with ' + seen.length + ' records')), 20000)
    consumer.run({
      eachMessage: async ({ message }) => {
        seen.push(message.value.toString())
        if (seen.length >= 100) { clearTimeout(timer); resolve() }
      }
    })
  })
  await new Promise(resolve => setTimeout(resolve, 500)) // anything aborted would show up now
  await consumer.disconnect()
  await admin.disconnect()
  const letters = [...new Set(seen.map(v => v[0]))].sort().join('')
  if (seen.length !== 100 || letters !== 'ac') throw new Error('read_committed saw ' + seen.length + ' records of ' + letters)
  console.log('kafkajs transactions ok')
}

main().catch(e => { console.error(e); process.exit(1) })
