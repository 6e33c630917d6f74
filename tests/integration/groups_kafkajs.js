// kafkajs 2.2.4: a consumer group reads a topic, commits, and the admin API reads the offsets back.
const { Kafka, logLevel } = require('kafkajs')

const kafka = new Kafka({ clientId: 'itg', brokers: [process.argv[2]], logLevel: logLevel.WARN })

async function main () {
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ topics: [{ topic: 'kjg', numPartitions: 2 }] })
  const producer = kafka.producer()
  await producer.connect()
  const messages = []
  for (let i = 0; i < 100; i++) messages.push({ value: 'v' + i, partition: i % 2 })
  await producer.send({ topic: 'kjg', messages })
  await producer.disconnect()

  const consumer = kafka.consumer({ groupId: 'kjg-g', sessionTimeout: 6000, heartbeatInterval: 500 })
  await consumer.connect()
  await consumer.subscribe({ topic: 'kjg', fromBeginning: true })
  let n = 0
  await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('timed out with ' + n + ' records')), 30000)
    consumer.run({
      eachMessage: async () => { n++; if (n === 100) { clearTimeout(t); resolve() } }
    }).catch(reject)
  })
  await consumer.disconnect() // commits what was consumed

  const offsets = await admin.fetchOffsets({ groupId: 'kjg-g', topics: ['kjg'] })
  const sum = offsets[0].partitions.reduce((s, p) => s + Number(p.offset), 0)
  if (sum !== 100) throw new Error('committed offsets sum ' + sum + ', want 100')
  const groups = await admin.listGroups()
  if (!groups.groups.some(g => g.groupId === 'kjg-g')) throw new Error('group not listed')
  const desc = await admin.describeGroups(['kjg-g'])
  if (desc.groups[0].state !== 'Empty') throw new Error('state ' + desc.groups[0].state)
  await admin.deleteGroups(['kjg-g'])
  await admin.disconnect()
  console.log('kafkajs group ok')
}

main().catch(e => { console.error(e); process.exit(1) })
