// An amperes-only OCPP 1.6 charger (ocpp-rpc, strict mode: every CALL the console sends is checked against the
// schemas before it is handled). It takes charging profiles in A only, says so in
// ChargingScheduleAllowedChargingRateUnit, starts a session and reports every profile it was sent.
// Usage: node amperes.js ENDPOINT IDENTITY; prints one JSON line once it holds a capped share and an idle.
'use strict';
const { RPCClient } = require('ocpp-rpc');

const [endpoint, identity] = process.argv.slice(2);
const T0 = '2026-04-02T09:15:00Z';

(async () => {
  const client = new RPCClient({ endpoint, identity, protocols: ['ocpp1.6'], strictMode: true, reconnect: false });
  const invalid = [];
  const profiles = [];
  client.on('strictValidationFailure', (event) => invalid.push(String(event.error && event.error.message)));
  let done;
  const finished = new Promise((resolve) => { done = resolve; });
  client.handle('GetConfiguration', ({ params }) => {
    const all = [{ key: 'ChargingScheduleAllowedChargingRateUnit', readonly: true, value: 'Current' },
      { key: 'NumberOfConnectors', readonly: true, value: '1' }];
    const keys = params.key || all.map((item) => item.key);
    return { configurationKey: all.filter((item) => keys.includes(item.key)) };
  });
  client.handle('SetChargingProfile', ({ params }) => {
    const profile = params.csChargingProfiles;
    const schedule = profile.chargingSchedule;
    const period = schedule.chargingSchedulePeriod[0];
    const status = schedule.chargingRateUnit === 'A' ? 'Accepted' : 'Rejected';
    profiles.push({ purpose: profile.chargingProfilePurpose, unit: schedule.chargingRateUnit, limit: period.limit,
      numberPhases: period.numberPhases, status });
    const accepted = profiles.filter((item) => item.status === 'Accepted');
    if (accepted.some((item) => item.purpose === 'ChargePointMaxProfile' && item.limit > 0)
        && accepted.some((item) => item.purpose === 'TxProfile' && item.limit === 0)) {
      setTimeout(done, 50);
    }
    return { status };
  });
  await client.connect();
  try {
    await client.call('BootNotification', { chargePointVendor: 'Amp', chargePointModel: 'A-only' });
    const start = await client.call('StartTransaction', { connectorId: 1, idTag: 'VAN-1', meterStart: 0, timestamp: T0 });
    await client.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Charging' });
    await Promise.race([finished, new Promise((resolve) => setTimeout(resolve, 15000))]);
    process.stdout.write(JSON.stringify({ transactionId: start.transactionId, profiles, invalid }) + '\n');
  } catch (error) {
    process.stdout.write(JSON.stringify({ error: `${error.name}: ${error.message}`, profiles, invalid }) + '\n');
  } finally {
    await client.close({ force: true });
  }
})();
