/**
 * Proof payloads as zkVerify's official Kurier tutorial sends them, and the proof-type list from
 * `GET /status`: the Kurier action node in n8n's engine (WorkflowExecute, and n8n-core's
 * LoadOptionsContext for the editor's list) against the emulator over real HTTP.
 */
import { LoadOptionsContext } from 'n8n-core';
import type { INodeExecutionData, INodeProperties, INodePropertyOptions } from 'n8n-workflow';
import { BINARY_ENCODING } from 'n8n-workflow';

import { KurierEmulator } from '../emulators/kurier';
import { Kurier } from '../nodes/Kurier/Kurier.node';
import { shapeProofParts, shapeVk } from '../nodes/Kurier/proofInput';
import { additionalDataFor, buildWorkflow, engineLogs, runManually } from './helpers/n8nEngine';

const KEY = 'kurier-proofs-key-9e21';
let emulator: KurierEmulator;

const credentials = () => ({ kurierApi: { environment: 'custom', baseUrl: emulator.restBaseUrl, apiKey: KEY } });
const file = (data: string, fileName: string, mimeType = 'text/plain') => ({ data: Buffer.from(data).toString(BINARY_ENCODING), mimeType, fileName });

async function submit(parameters: Record<string, unknown>, input: INodeExecutionData[] = [{ json: {} }]) {
	return await runManually(
		{ nodeType: new Kurier(), parameters: { operation: 'submitProof', proofOptions: '{}', vkMode: 'inline', ...parameters } as never, credentials: credentials() },
		input,
	);
}

async function loadProofTypes(withCredential = true): Promise<INodePropertyOptions[]> {
	const nodeType = new Kurier();
	const creds = withCredential ? credentials() : {};
	const { workflow, node } = buildWorkflow({ nodeType, parameters: { operation: 'submitProof' }, credentials: creds });
	const context = new LoadOptionsContext(workflow, node, additionalDataFor(creds), 'parameters.proofType');
	return await nodeType.methods.loadOptions.getProofTypes.call(context);
}

const property = (name: string) => new Kurier().description.properties.find((p) => p.name === name) as INodeProperties;

const UH_PROOF = `0x${'ab'.repeat(32)}`;
const UH_PUBS = [`0x${'00'.repeat(31)}01`, `0x${'00'.repeat(31)}2a`];
const UH_VK = `0x${'cd'.repeat(32)}`;
const R0_PROOF_JSON = { proof: `0x${'11'.repeat(40)}`, pub_inputs: `0x${'22'.repeat(8)}`, image_id: `0x${'33'.repeat(32)}` };

beforeEach(async () => {
	emulator = await KurierEmulator.start({ apiKeys: [KEY] });
});

afterEach(async () => {
	await emulator.close();
});

afterAll(() => {
	expect(engineLogs.text()).not.toContain(KEY);
});

describe('shaping (pure)', () => {
	test('UltraHonk: proof and VK are the first line, public inputs one entry per line; JSON arrays kept', () => {
		expect(shapeProofParts('ultrahonk', { proof: `${UH_PROOF}\n`, publicSignals: `${UH_PUBS.join('\n')}\n` })).toEqual({ proof: UH_PROOF, publicSignals: UH_PUBS });
		expect(shapeProofParts('ultrahonk', { proof: UH_PROOF, publicSignals: `${UH_PUBS[0]}\r\n` })).toEqual({ proof: UH_PROOF, publicSignals: [UH_PUBS[0]] });
		expect(shapeProofParts('ultrahonk', { proof: UH_PROOF, publicSignals: UH_PUBS })).toEqual({ proof: UH_PROOF, publicSignals: UH_PUBS });
		expect(shapeVk('ultrahonk', `${UH_VK}\n`)).toBe(UH_VK);
	});

	test('RISC Zero / SP1: proof.json gives proof.proof, proof.pub_inputs and (as VK) image_id; a separate public signals value wins', () => {
		for (const type of ['risc0', 'sp1']) {
			expect(shapeProofParts(type, { proof: R0_PROOF_JSON, publicSignals: undefined })).toEqual({ proof: R0_PROOF_JSON.proof, publicSignals: R0_PROOF_JSON.pub_inputs });
			expect(shapeProofParts(type, { proof: R0_PROOF_JSON, publicSignals: '0x99' })).toEqual({ proof: R0_PROOF_JSON.proof, publicSignals: '0x99' });
			expect(shapeVk(type, R0_PROOF_JSON)).toBe(R0_PROOF_JSON.image_id);
		}
		expect(shapeProofParts('risc0', { proof: '0x1234', publicSignals: '0x01' })).toEqual({ proof: '0x1234', publicSignals: '0x01' });
	});

	test('other proof types pass through unchanged', () => {
		const groth16 = { proof: { pi_a: ['1'], proof: 'x' }, publicSignals: 'a\nb' };
		expect(shapeProofParts('groth16', groth16)).toEqual(groth16);
		expect(shapeVk('groth16', { image_id: 'x' })).toEqual({ image_id: 'x' });
	});
});

describe('binary files as the tutorial reads them', () => {
	test('UltraHonk zkv_proof.hex, zkv_pubs.hex, zkv_vk.hex: publicSignals is an array, one per line', async () => {
		const input: INodeExecutionData[] = [
			{
				json: {},
				binary: { proof: file(`${UH_PROOF}\n`, 'zkv_proof.hex'), pubs: file(`${UH_PUBS.join('\n')}\n`, 'zkv_pubs.hex'), vk: file(`${UH_VK}\n`, 'zkv_vk.hex') },
			},
		];
		const result = await submit({ proofType: 'ultrahonk', proofOptions: '{"variant":"Plain"}', inputSource: 'binary', proofBinaryProperty: 'proof', publicSignalsBinaryProperty: 'pubs', vkBinaryProperty: 'vk' }, input);
		expect(result.error).toBeUndefined();
		expect(result.items[0]).toMatchObject({ optimisticVerify: 'success', proofType: 'ultrahonk' });
		expect(emulator.lastSubmission).toEqual({
			proofType: 'ultrahonk',
			vkRegistered: false,
			proofOptions: { variant: 'Plain' },
			proofData: { proof: UH_PROOF, publicSignals: UH_PUBS, vk: UH_VK },
		});
	});

	test('RISC Zero proof.json as proof and as VK file: proof.proof, proof.pub_inputs, image_id', async () => {
		const input: INodeExecutionData[] = [{ json: {}, binary: { proof: file(JSON.stringify(R0_PROOF_JSON), 'proof.json', 'application/json') } }];
		const result = await submit({ proofType: 'risc0', proofOptions: '{"version":"V2_1"}', inputSource: 'binary', proofBinaryProperty: 'proof', publicSignalsBinaryProperty: '', vkBinaryProperty: 'proof' }, input);
		expect(result.error).toBeUndefined();
		expect(emulator.lastSubmission).toMatchObject({ proofType: 'risc0', proofData: { proof: R0_PROOF_JSON.proof, publicSignals: R0_PROOF_JSON.pub_inputs, vk: R0_PROOF_JSON.image_id } });
	});

	test('SP1 proof.json pasted into the JSON fields is shaped the same way; Register VK First registers image_id', async () => {
		const result = await submit({ proofType: 'sp1', inputSource: 'json', vkMode: 'registerFirst', proof: JSON.stringify(R0_PROOF_JSON), publicSignals: '', vk: JSON.stringify(R0_PROOF_JSON) });
		expect(result.error).toBeUndefined();
		expect(result.items[0]).toMatchObject({ optimisticVerify: 'success', vkHash: expect.stringMatching(/^0x/) });
		expect(emulator.lastSubmission).toMatchObject({ proofType: 'sp1', vkRegistered: true, proofData: { proof: R0_PROOF_JSON.proof, publicSignals: R0_PROOF_JSON.pub_inputs } });
	});

	test('the emulator refuses the old shapes (pubs as one string, proof.json whole as proof), as a validating service would', async () => {
		const post = async (body: unknown) => {
			const response = await fetch(`${emulator.restBaseUrl}/submit-proof/${KEY}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
			return { status: response.status, body: (await response.json()) as { message?: string } };
		};
		const uh = await post({ proofType: 'ultrahonk', vkRegistered: false, proofData: { proof: UH_PROOF, publicSignals: UH_PUBS.join('\n'), vk: UH_VK } });
		expect(uh).toMatchObject({ status: 400, body: { message: 'body/proofData/publicSignals must be array' } });
		const r0 = await post({ proofType: 'risc0', vkRegistered: false, proofData: { proof: R0_PROOF_JSON, vk: R0_PROOF_JSON.image_id } });
		expect(r0).toMatchObject({ status: 400, body: { message: 'body/proofData/proof must be string' } });
		const tee = await post({ proofType: 'tee', vkRegistered: false, proofData: { proof: '0x01', vk: '0x02' } });
		expect(tee.status).toBe(400);
	});
});

describe('proof types from GET /status', () => {
	test('the list is what the service says it accepts, with a hint per type', async () => {
		emulator.setSupportedProofs(['groth16', 'ultrahonk', 'risc0']);
		const options = await loadProofTypes();
		expect(options.map((o) => o.value)).toEqual(['groth16', 'ultrahonk', 'risc0']);
		expect(options.find((o) => o.value === 'ultrahonk')?.description).toMatch(/variant.*version/);
	});

	test('the emulator\'s default is the live testnet list: ezkl, no tee', async () => {
		const values = (await loadProofTypes()).map((o) => o.value);
		expect(values).toContain('ezkl');
		expect(values).not.toContain('tee');
	});

	test('when /status fails, or there is no credential, the built-in list is used (no tee, ezkl marked testnet only)', async () => {
		emulator.setSupportedProofs('error');
		const fallback = await loadProofTypes();
		expect(fallback.map((o) => o.value)).toEqual(['groth16', 'ultraplonk', 'ultrahonk', 'risc0', 'sp1', 'plonky2', 'fflonk', 'ezkl']);
		expect(fallback.find((o) => o.value === 'ezkl')?.description).toMatch(/testnet only/);
		await emulator.close();
		expect((await loadProofTypes()).map((o) => o.value)).toContain('groth16');
		expect((await loadProofTypes(false)).map((o) => o.value)).toContain('groth16');
		emulator = await KurierEmulator.start({ apiKeys: [KEY] });
	});

	test('the parameter loads its options from the method, and Proof Options names the UltraHonk options', () => {
		expect(property('proofType').typeOptions).toEqual({ loadOptionsMethod: 'getProofTypes' });
		expect(property('proofOptions').description).toMatch(/UltraHonk: \{"variant":"Plain"\} or \{"variant":"ZK"\}, plus \{"version":"V0_84"\}/);
	});
});
