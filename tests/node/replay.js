// Real chargers' frames replayed by an independent OCPP implementation (ocpp-rpc, strict mode: every
// request we send and every answer the console gives is checked against the OCPP schemas).
// Usage: node replay.js ENDPOINT SCENARIO; prints one JSON line of the answers received.
'use strict';
const { RPCClient } = require('ocpp-rpc');

const [endpoint, scenario] = process.argv.slice(2);
const T0 = '2026-04-02T09:15:00Z';
const T1 = '2026-04-02T09:20:00Z';
const T2 = '2026-04-02T09:25:00Z';

const energy16 = (timestamp, wh) => ({ timestamp, sampledValue: [{ value: String(wh), measurand: 'Energy.Active.Import.Register', unit: 'Wh' }] });
const energy201 = (timestamp, wh, context) => ({ timestamp, sampledValue: [{ value: wh, measurand: 'Energy.Active.Import.Register', context, unitOfMeasure: { unit: 'Wh' } }] });

const scenarios = {
  async ocpp16(client) {
    const answers = {};
    answers.boot = await client.call('BootNotification', { chargePointVendor: 'ABB', chargePointModel: 'Terra AC' });
    const stop = { transactionId: 987654, idTag: 'FLEET-1', meterStop: 1014000, timestamp: T2, reason: 'Local',
      transactionData: [energy16(T0, 1000000), energy16(T2, 1014000)] };
    answers.unknownStop = await client.call('StopTransaction', stop);
    answers.unknownStopAgain = await client.call('StopTransaction', stop);
    const start = { connectorId: 1, idTag: 'FLEET-2', meterStart: 5000, timestamp: T0 };
    answers.start = await client.call('StartTransaction', start);
    answers.startAgain = await client.call('StartTransaction', start);
    answers.phases = await client.call('MeterValues', { connectorId: 1, transactionId: answers.start.transactionId, meterValue: [{
      timestamp: T1, sampledValue: ['L1', 'L2', 'L3'].map((phase) => ({ value: '2000', measurand: 'Energy.Active.Import.Register', unit: 'Wh', phase })),
    }] });
    answers.superseding = await client.call('StartTransaction', { connectorId: 1, idTag: 'FLEET-3', meterStart: 6100, timestamp: T2 });
    answers.backwards = await client.call('StopTransaction', { transactionId: answers.superseding.transactionId, meterStop: 100, timestamp: T2 });
    return answers;
  },
  async ocpp201(client) {
    const answers = {};
    answers.boot = await client.call('BootNotification', { chargingStation: { vendorName: 'Alpitronic', model: 'HYC300' }, reason: 'PowerUp' });
    const idToken = { idToken: 'VAN-9', type: 'ISO14443' };
    answers.started = await client.call('TransactionEvent', { eventType: 'Started', timestamp: T0, triggerReason: 'Authorized', seqNo: 0,
      transactionInfo: { transactionId: 'tx-ind-1' }, evse: { id: 1, connectorId: 1 }, idToken, meterValue: [energy201(T0, 1000, 'Transaction.Begin')] });
    const ended = { eventType: 'Ended', timestamp: T1, triggerReason: 'EVCommunicationLost', seqNo: 2,
      transactionInfo: { transactionId: 'tx-ind-1', stoppedReason: 'EVDisconnected' }, idToken, meterValue: [energy201(T1, 9000, 'Transaction.End')] };
    answers.ended = await client.call('TransactionEvent', ended);
    answers.endedAgain = await client.call('TransactionEvent', ended);
    answers.lostStart = await client.call('TransactionEvent', { eventType: 'Ended', timestamp: T2, triggerReason: 'EVCommunicationLost', seqNo: 5,
      transactionInfo: { transactionId: 'tx-ind-2' }, evse: { id: 1 }, meterValue: [energy201(T2, 12000, 'Transaction.End')] });
    answers.vendor = await client.call('DataTransfer', { vendorId: 'com.example', messageId: 'x', data: { some_key: 1, otherKey: null } });
    return answers;
  },
  // Tokens the console's registry holds (and one it does not), then a local list the console pushes: the
  // scenario ends once the console has asked for the list's version.
  async tokens16(client) {
    const answers = {};
    const list = { version: 0, entries: {} };
    const asked = localList(client, list, 'listVersion', (entry) => [entry.idTag, entry.idTagInfo]);
    answers.boot = await client.call('BootNotification', { chargePointVendor: 'ABB', chargePointModel: 'Terra AC' });
    for (const idTag of ['VALID-1', 'BLOCKED-1', 'EXPIRED-1', 'LAPSED-1', 'ELSEWHERE-1', 'NOBODY']) {
      answers[idTag] = (await client.call('Authorize', { idTag })).idTagInfo;
    }
    answers.start = await client.call('StartTransaction', { connectorId: 1, idTag: 'VALID-1', meterStart: 0, timestamp: T0 });
    await asked;
    answers.localList = list;
    return answers;
  },
  async tokens201(client) {
    const answers = {};
    const list = { version: 0, entries: {} };
    const asked = localList(client, list, 'versionNumber', (entry) => [entry.idToken.idToken, entry.idTokenInfo]);
    answers.boot = await client.call('BootNotification', { chargingStation: { vendorName: 'Alpitronic', model: 'HYC300' }, reason: 'PowerUp' });
    for (const token of ['VALID-1', 'BLOCKED-1', 'EXPIRED-1', 'LAPSED-1', 'ELSEWHERE-1', 'NOBODY']) {
      answers[token] = (await client.call('Authorize', { idToken: { idToken: token, type: 'ISO14443' } })).idTokenInfo;
    }
    answers.started = await client.call('TransactionEvent', { eventType: 'Started', timestamp: T0, triggerReason: 'Authorized', seqNo: 0,
      transactionInfo: { transactionId: 'tx-tok-1' }, evse: { id: 1, connectorId: 1 }, idToken: { idToken: 'BLOCKED-1', type: 'ISO14443' } });
    await asked;
    answers.localList = list;
    return answers;
  },
  // A session at a location the console plans: the scenario ends once a charging profile came (strict mode
  // refuses one that breaks the schema, and says so in `invalid`). 2.0.1 tells its needs first.
  async plan16(client) {
    const answers = {};
    const profile = nextProfile(client);
    answers.boot = await client.call('BootNotification', { chargePointVendor: 'ABB', chargePointModel: 'Terra AC' });
    answers.start = await client.call('StartTransaction', { connectorId: 1, idTag: 'VAN-1', meterStart: 0, timestamp: T0 });
    answers.profile = await profile;
    return answers;
  },
  async plan201(client) {
    const answers = {};
    const profile = nextProfile(client);
    answers.boot = await client.call('BootNotification', { chargingStation: { vendorName: 'Alpitronic', model: 'HYC300' }, reason: 'PowerUp' });
    answers.started = await client.call('TransactionEvent', { eventType: 'Started', timestamp: T0, triggerReason: 'Authorized', seqNo: 0,
      transactionInfo: { transactionId: 'tx-plan-1' }, evse: { id: 1, connectorId: 1 }, idToken: { idToken: 'VAN-2', type: 'ISO14443' } });
    answers.needs = await client.call('NotifyEVChargingNeeds', { evseId: 1, chargingNeeds: { requestedEnergyTransfer: 'AC_three_phase',
      departureTime: new Date(Date.now() + 6 * 3600 * 1000).toISOString(),
      acChargingParameters: { energyAmount: 30000, evMinCurrent: 6, evMaxCurrent: 32, evMaxVoltage: 400 } } });
    answers.profile = await profile;
    return answers;
  },
};

// The first SetChargingProfile the console sends (accepted).
function nextProfile(client) {
  return new Promise((resolve) => {
    client.handle('SetChargingProfile', ({ params }) => {
      setTimeout(() => resolve(params), 50);
      return { status: 'Accepted' };
    });
  });
}

// Keep a local authorization list as a charger does (full or differential, its version); resolves once the
// console asks for the version.
function localList(client, list, versionKey, keyAndInfo) {
  return new Promise((resolve) => {
    client.handle('SendLocalList', ({ params }) => {
      if (params.updateType === 'Full') list.entries = {};
      for (const entry of params.localAuthorizationList || []) {
        const [key, info] = keyAndInfo(entry);
        if (info) list.entries[key] = info.status; else delete list.entries[key];
      }
      list.version = params[versionKey];
      return { status: 'Accepted' };
    });
    client.handle('GetLocalListVersion', () => {
      setTimeout(resolve, 50);
      return { [versionKey]: list.version };
    });
  });
}

(async () => {
  const [identity, protocol] = scenario.endsWith('16') ? ['IND-16', 'ocpp1.6'] : ['IND-201', 'ocpp2.0.1'];
  const client = new RPCClient({ endpoint, identity, protocols: [protocol], strictMode: true, reconnect: false });
  const invalid = [];
  client.on('strictValidationFailure', (event) => invalid.push(String(event.error && event.error.message)));
  await client.connect();
  try {
    const answers = await scenarios[scenario](client);
    process.stdout.write(JSON.stringify({ answers, invalid }) + '\n');
  } catch (error) {
    process.stdout.write(JSON.stringify({ error: `${error.name}: ${error.message}`, invalid }) + '\n');
  } finally {
    await client.close({ force: true });
  }
})();
