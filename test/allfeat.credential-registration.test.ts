/**
 * The Allfeat ATS credential test with an API key and an Organization ID: run the way n8n's
 * credential tester runs it, against the emulator's registration routes on 127.0.0.1. A `prepare`
 * of a random job id proves key, organization and scope without creating anything.
 */
import { AllfeatEmulator } from '../emulators/allfeat';
import { AllfeatAts } from '../nodes/AllfeatAts/AllfeatAts.node';
import { testCredential } from './helpers/n8nEngine';

const KEY = `afo_sk_live_${'3e4f'.repeat(12)}`;
const UPDATE_ONLY_KEY = `afo_sk_live_${'77aa'.repeat(12)}`;
let emulator: AllfeatEmulator;

const check = (overrides: Record<string, string> = {}) =>
	testCredential(new AllfeatAts(), 'allfeatAtsApiCredentialTest', 'allfeatAtsApi', {
		baseUrl: 'custom',
		customBaseUrl: emulator.baseUrl,
		apiKey: KEY,
		organizationId: emulator.registration.organizationId,
		...overrides,
	});

beforeEach(async () => {
	emulator = await AllfeatEmulator.start({ apiKeys: [KEY, UPDATE_ONLY_KEY], registration: { keyScopes: { [UPDATE_ONLY_KEY]: ['works:update'] } } });
});

afterEach(async () => await emulator.close());

test('key, organization and works:register accepted: OK, and nothing was created', async () => {
	expect(await check()).toEqual({ status: 'OK', message: expect.stringMatching(/accepted the API key, the organization and the works:register scope/) });
	expect(emulator.registration.stats).toMatchObject({ inits: 0, prepares: 1, confirmsAccepted: 0 });
	expect(emulator.registration.allJobs()).toEqual([]);
});

test('each refusal is a named message with its code and request id, never the key', async () => {
	const unknownKey = `afo_sk_live_${'0'.repeat(48)}`;
	const results = {
		unknownKey: await check({ apiKey: unknownKey }),
		wrongOrganization: await check({ organizationId: '00000000-0000-4000-8000-000000000001' }),
		missingScope: await check({ apiKey: UPDATE_ONLY_KEY }),
	};
	emulator.registration.setOrganizationActive(false);
	const inactive = await check();
	emulator.registration.setOrganizationActive(true);
	emulator.registration.injectError('prepare', { code: 'api_key.invalid_format' });
	const malformed = await check();
	emulator.revokeApiKey(KEY);
	const revoked = await check();

	expect(results.unknownKey).toEqual({ status: 'Error', message: expect.stringMatching(/^Allfeat does not know this API key.*\[HTTP 401, api_key\.not_found, request_id req_[0-9a-f]+\]$/) });
	expect(results.wrongOrganization).toEqual({ status: 'Error', message: expect.stringMatching(/^The API key does not belong to this Organization ID.*\[HTTP 403, api_key\.org_mismatch, request_id req_/) });
	expect(results.missingScope).toEqual({ status: 'Error', message: expect.stringMatching(/^The API key lacks the works:register scope.*\[HTTP 403, api_key\.scope_denied, request_id req_/) });
	expect(inactive).toEqual({ status: 'Error', message: expect.stringMatching(/^The organization is inactive.*\[HTTP 403, api_key\.org_inactive/) });
	expect(malformed).toEqual({ status: 'Error', message: expect.stringMatching(/^Allfeat says the API key is malformed.*\[HTTP 401, api_key\.invalid_format/) });
	expect(revoked).toEqual({ status: 'Error', message: expect.stringMatching(/^This API key was revoked.*\[HTTP 401, api_key\.revoked/) });
	for (const result of [...Object.values(results), inactive, malformed, revoked]) {
		expect(result.message).not.toContain(KEY);
		expect(result.message).not.toContain(UPDATE_ONLY_KEY);
		expect(result.message).not.toContain(unknownKey);
	}
});

test('only one of key and organization: the tracking check passes and says what registration needs; an unexpected answer is an error', async () => {
	expect(await check({ organizationId: '' })).toEqual({ status: 'OK', message: expect.stringMatching(/set the Organization ID too/) });
	expect(await check({ apiKey: '' })).toEqual({ status: 'OK', message: expect.stringMatching(/Organization ID is set but no API key: registering works needs both/) });
	expect(emulator.registration.stats.prepares).toBe(0);
	emulator.registration.injectError('prepare', { code: 'common.service_unavailable' });
	expect(await check()).toEqual({ status: 'Error', message: expect.stringMatching(/did not answer as expected: .*Allfeat is temporarily unavailable.*common\.service_unavailable/) });
});
