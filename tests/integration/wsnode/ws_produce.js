// ws_produce.js -- a WebSocket client on Node's `ws` package for test_gateway_ws_produce.sh.
//   node ws_produce.js URL API_KEY FRAMES_FILE ANSWERS [RECORDS]
// Opens URL (with X-API-Key when API_KEY is not "-"), sends each line of FRAMES_FILE as one text
// frame, and prints every frame it receives, one per line, until it has ANSWERS answer frames
// (those with a "type": ack or error) and RECORDS stream records; exits 1 after 60 s or on a
// close or error first.
'use strict';
const fs = require('fs');
const WebSocket = require('ws');
const [url, key, file, answers, records] = process.argv.slice(2);
const wantAnswers = Number(answers), wantRecords = Number(records || 0);
const frames = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.length > 0);
const ws = new WebSocket(url, { headers: key === '-' ? {} : { 'X-API-Key': key } });
let nAnswers = 0, nRecords = 0;
const timer = setTimeout(() => { console.error(`timeout: ${nAnswers} answers, ${nRecords} records`); process.exit(1); }, 60000);
ws.on('open', () => { for (const f of frames) ws.send(f); });
ws.on('message', (data) => {
  const text = data.toString();
  console.log(text);
  const m = JSON.parse(text);
  if (m.type !== undefined) nAnswers++; else nRecords++;
  if (nAnswers >= wantAnswers && nRecords >= wantRecords) {
    clearTimeout(timer);
    ws.close(1000);
  }
});
ws.on('close', () => process.exit(nAnswers >= wantAnswers && nRecords >= wantRecords ? 0 : 1));
ws.on('error', (e) => { console.error(`ws error: ${e.message}`); process.exit(1); });
