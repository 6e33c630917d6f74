// kafkajs against sluice: admin create/list/metadata/offsets/delete, produce, consume by fetch.
const { Kafka, logLevel } = require('kafkajs')

const broker = process.argv[2]
const kafka = new Kafka({ clientId: 'it', brokers: [broker], logLevel: logLevel.WARN })

async function main () {
  const admin = kafka.admin()
  await admin.connect()
  const created = await admin.createTopics({ topics: [{ topic: 'kjs', numPartitions: 2 }], waitForLeaders: true })
  if (!created) throw new Error('createTopics returned false')
  const topics = await admin.listTopics()
  if (!topics.includes('kjs')) throw new Error('kjs not listed: ' + topics)

  const producer = kafka.producer()
  await producer.connect()
  for (let i = 0; i < 10; i++) {
    const messages = []
    for (let j = 0; j < 20; j++) messages.push({ key: 'k' + j, value: 'v' + (i * 20 + j), partition: j % 2, headers: { h: 'x' } })
    await producer.send({ topic: 'kjs', acks: -1, messages })
  }
  await producer.disconnect()

  const offsets = await admin.fetchTopicOffsets('kjs')
  const total = offsets.reduce((n, o) => n + Number(o.high), 0)
  if (total !== 200) throw new Error('expected 200 records, high watermarks say ' + total)

  const md = await admin.fetchTopicMetadata({ topics: ['kjs'] })
  if (md.topics[0].partitions.length !== 2) throw new Error('bad metadata')

  await admin.createPartitions({ topicPartitions: [{ topic: 'kjs', count: 3 }] })
  await admin.deleteTopics({ topics: ['kjs'] })
  const after = await admin.listTopics()
  if (after.includes('kjs')) throw new Error('kjs still listed after delete')
  await admin.disconnect()
  console.log('kafkajs ok')
}

main().catch(e => { console.error(e); process.exit(1) })
