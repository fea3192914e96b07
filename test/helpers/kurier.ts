import type { IDataObject } from 'n8n-workflow';
import WebSocket from 'ws';

import type { KurierEmulator } from '../../emulators/kurier';
import { KurierTrigger } from '../../nodes/Kurier/KurierTrigger.node';
import type { NodeUnderTest } from './n8nEngine';

/** The Kurier credential of a test: the emulator as a custom environment. */
export function kurierCredentials(emulator: KurierEmulator, apiKey: string, overrides: Record<string, string> = {}) {
	return { kurierApi: { environment: 'custom', baseUrl: emulator.restBaseUrl, apiKey, ...overrides } };
}

/** A Kurier Trigger on the emulator; pass one `staticData` to several activations to play an n8n restart. */
export function kurierTriggerSubject(emulator: KurierEmulator, apiKey: string, parameters: Record<string, unknown>, staticData?: IDataObject): NodeUnderTest {
	return {
		nodeType: new KurierTrigger(),
		parameters: parameters as never,
		credentials: kurierCredentials(emulator, apiKey),
		...(staticData ? { staticData } : {}),
	};
}

/** A groth16 proof submitted over the emulator's REST API, as any client would; resolves with its job id. */
export async function submitProofOverRest(emulator: KurierEmulator, apiKey: string): Promise<string> {
	const body = { proofType: 'groth16', vkRegistered: false, proofData: { proof: '0x01', publicSignals: ['0x01'], vk: { k: 1 } } };
	const response = await fetch(`${emulator.restBaseUrl}/submit-proof/${apiKey}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
	return ((await response.json()) as { jobId: string }).jobId;
}

/**
 * A connection on `apiKey` from outside this process (another n8n, a script): it holds one of the
 * key's slots. Triggers in this process share one socket per key, so only such a client can fill
 * the key's limit. Resolves once the emulator greeted it; close it with `terminate()`.
 */
export async function outsideConnection(emulator: KurierEmulator, apiKey: string): Promise<WebSocket> {
	const url = `${emulator.restBaseUrl.replace(/^http/, 'ws')}/ws?apiKey=${encodeURIComponent(apiKey)}`;
	const ws = new WebSocket(url);
	await new Promise<void>((resolve, reject) => {
		ws.once('message', () => resolve());
		ws.once('error', reject);
		ws.once('close', () => reject(new Error('the emulator closed the outside connection')));
	});
	ws.removeAllListeners();
	ws.on('error', () => undefined);
	return ws;
}
