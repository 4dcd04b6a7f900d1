// A charger that takes every operation the console sends, by an independent OCPP implementation (ocpp-rpc, strict
// mode: each request the console sends is checked against the OCPP schemas before it is handled, each answer here too).
// Usage: node operations.js ENDPOINT IDENTITY ocpp1.6|ocpp2.0.1; prints one JSON line per request received
// ({method, params}), per schema failure ({invalid}), and {ready} once booted; runs until stdin closes.
'use strict';
const { RPCClient } = require('ocpp-rpc');

const [endpoint, identity, protocol] = process.argv.slice(2);
const is16 = protocol === 'ocpp1.6';
const say = (line) => process.stdout.write(JSON.stringify(line) + '\n');

const accepted = { status: 'Accepted' };
const answers16 = {
  GetConfiguration: ({ key }) => ({ configurationKey: (key && key.length ? key : ['HeartbeatInterval']).map((name) => ({ key: name, readonly: false, value: '300' })) }),
  GetDiagnostics: () => ({ fileName: 'diagnostics.log' }),
  GetLocalListVersion: () => ({ listVersion: 1 }),
  GetLog: () => ({ status: 'Accepted', filename: 'security.log' }),
  UnlockConnector: () => ({ status: 'Unlocked' }),
  UpdateFirmware: () => ({}),
};
const answers201 = {
  GetVariables: ({ getVariableData }) => ({ getVariableResult: getVariableData.map(({ component, variable }) => ({ attributeStatus: 'Accepted', component, variable, attributeValue: '300' })) }),
  SetVariables: ({ setVariableData }) => ({ setVariableResult: setVariableData.map(({ component, variable }) => ({ attributeStatus: 'Accepted', component, variable })) }),
  GetLocalListVersion: () => ({ versionNumber: 1 }),
  GetLog: () => ({ status: 'Accepted', filename: 'diagnostics.log' }),
  UnlockConnector: () => ({ status: 'Unlocked' }),
};

(async () => {
  const client = new RPCClient({ endpoint, identity, protocols: [protocol], strictMode: true, reconnect: false });
  client.on('strictValidationFailure', (event) => say({ invalid: String(event.error && event.error.message) }));
  const answers = is16 ? answers16 : answers201;
  client.handle(({ method, params }) => {
    say({ method, params });
    const answer = answers[method];
    return answer ? answer(params) : accepted;
  });
  await client.connect();
  const boot = is16
    ? await client.call('BootNotification', { chargePointVendor: 'ABB', chargePointModel: 'Terra AC' })
    : await client.call('BootNotification', { chargingStation: { vendorName: 'Alpitronic', model: 'HYC300' }, reason: 'PowerUp' });
  say({ ready: boot.status });
  process.stdin.resume();
  process.stdin.on('end', async () => { await client.close({ force: true }); process.exit(0); });
})().catch((error) => { say({ error: `${error.name}: ${error.message}` }); process.exit(1); });
