import { NodeOperationError } from 'n8n-workflow';
import type {
	IDataObject,
	IExecuteFunctions,
	ILoadOptionsFunctions,
	INodeExecutionData,
	INodeProperties,
	INodePropertyOptions,
	INodeType,
	INodeTypeDescription,
} from 'n8n-workflow';

import { NodeConnectionTypes } from '../shared/connectionTypes';
import { asItemJson, executeForEachItem, runWaitOperation } from '../shared/n8n';
import { failOnFailureProperty, pollIntervalOption, timeoutSecondsProperty } from '../shared/waitProperties';
import type { WaitParameters } from '../shared/waitProperties';
import type { KurierApiClient } from './KurierApiClient';
import { KURIER_CREDENTIAL_TEST, jobIdProperty, kurierApiCredentialTest, kurierClientFor, kurierProofTypeOptions, readJobId } from './kurierNodeCommon';
import { ProofInputError, decodeProofFile, parseOptionalProofField, parseProofField, parseProofOptions, shapeProofParts, shapeVk } from './proofInput';
import { normalizeKurierJob } from './protocol';
import type { KurierSubmissionMode, SubmitProofRequest } from './protocol';
import { waitForKurierJob } from './waitForJob';

const show = (operation: string[], extra: Record<string, string[]> = {}) => ({ displayOptions: { show: { operation, ...extra } } });

const WAIT: WaitParameters = {
	timeout: { default: 600, description: 'Fail if the job is not final by then. Jobs with aggregation can take several minutes.' },
	failOnFailure: {
		name: 'failOnJobFailure',
		displayName: 'Fail If the Job Failed',
		description: 'Whether to stop with an error when the job ends in Failed. Off: the Failed item is output.',
	},
	pollInterval: {
		default: 15,
		description: 'The wait listens on the WebSocket; it also polls the REST status this often, and only polls when the WebSocket cannot be had',
	},
};

const properties: INodeProperties[] = [
	{
		displayName: 'Operation',
		name: 'operation',
		type: 'options',
		noDataExpression: true,
		options: [
			{
				name: 'Submit Proof',
				value: 'submitProof',
				action: 'Submit a proof for verification',
				description: 'Send a proof, its public signals and verification key to zkVerify. Returns the jobId to follow; optimisticVerify "success" means the proof checked out.',
			},
			{
				name: 'Register VK',
				value: 'registerVk',
				action: 'Register a verification key',
				description: 'Register a verification key once (again is harmless), then submit proofs with its vkHash. Returns vkHash.',
			},
			{
				name: 'Get Job Status',
				value: 'getJobStatus',
				action: 'Get the status of a proof job',
				description: 'Read a proof job\'s current status by its jobId. Returns status, phase (pending, retrying, succeeded, failed), isFinal, txHash and error.',
			},
			{
				name: 'Wait for Job',
				value: 'waitForJob',
				action: 'Wait until a proof job is final',
				description: 'Wait until the job is finalized, aggregated or failed (or the timeout). Returns the same fields as Get Job Status.',
			},
		],
		default: 'submitProof',
		description: 'What to do with Kurier: submit a proof, register a verification key, or read or wait for a job',
	},
	{
		displayName: 'Proof Type Name or ID',
		name: 'proofType',
		type: 'options',
		// The list comes from the service's GET /status (the built-in list when it cannot be read).
		typeOptions: { loadOptionsMethod: 'getProofTypes' },
		default: 'groth16',
		description:
			'The proof system that produced the proof, e.g. groth16 for snarkjs/circom, ultrahonk or ultraplonk for Noir, risc0 for RISC Zero. The list is what Kurier accepts now. Choose from the list, or specify an ID using an <a href="https://docs.n8n.io/code/expressions/">expression</a>.',
		...show(['submitProof', 'registerVk']),
	},
	{
		displayName: 'Proof Options',
		name: 'proofOptions',
		type: 'json',
		default: '{}',
		description:
			'A JSON object of options for the proof type, e.g. {"library":"snarkjs","curve":"bn128"} for groth16, {"numberOfPublicInputs":1} for ultraplonk, {"version":"V2_1"} for risc0. UltraHonk: {"variant":"Plain"} or {"variant":"ZK"}, plus {"version":"V0_84"}, "V3_0" or "Legacy" to match your bb version where Kurier asks for it; {} for none.',
		...show(['submitProof', 'registerVk']),
	},
	{
		displayName: 'Input Data From',
		name: 'inputSource',
		type: 'options',
		options: [
			{ name: 'JSON Fields', value: 'json', description: 'Paste the values or map them with expressions' },
			{ name: 'Binary Files', value: 'binary', description: 'Read the files of the input item (JSON, hex text, or raw bytes sent as base64)' },
		],
		default: 'json',
		description: 'Where the proof and verification key come from: fields of this node, or files attached to the input item',
		...show(['submitProof', 'registerVk']),
	},
	{
		displayName: 'Verification Key',
		name: 'vkMode',
		type: 'options',
		options: [
			{ name: 'Send Full VK', value: 'inline', description: 'Send the whole verification key with the proof' },
			{ name: 'Use Registered VK Hash', value: 'hash', description: 'The VK was registered before: send its hash' },
			{ name: 'Register VK First', value: 'registerFirst', description: 'Register the VK (or reuse its registration), then submit with its hash' },
		],
		default: 'inline',
		description: 'How the verification key is given: in full with every proof, or as the hash of a key registered before',
		...show(['submitProof']),
	},
	{
		displayName: 'Proof',
		name: 'proof',
		type: 'string',
		typeOptions: { rows: 4 },
		default: '',
		required: true,
		placeholder: '{"pi_a": […], "pi_b": […], "pi_c": […], "protocol": "groth16"} or 0x…',
		description: 'The proof: a JSON object such as the proof file snarkjs writes, or a hex or base64 string without quotes (e.g. a Noir or RISC Zero proof)',
		...show(['submitProof'], { inputSource: ['json'] }),
	},
	{
		displayName: 'Public Signals',
		name: 'publicSignals',
		type: 'string',
		typeOptions: { rows: 2 },
		default: '',
		placeholder: '["1", "42"] or 0x…',
		description: 'The public inputs: a JSON array such as the public signals file snarkjs writes, or a hex string. Leave empty for proof types without public signals.',
		...show(['submitProof'], { inputSource: ['json'] }),
	},
	{
		displayName: 'VK',
		name: 'vk',
		type: 'string',
		typeOptions: { rows: 4 },
		default: '',
		required: true,
		placeholder: '{"protocol": "groth16", "curve": "bn128", …} or 0x…',
		description: 'The verification key: a JSON object such as the verification key snarkjs exports, or a hex or base64 string without quotes',
		displayOptions: { show: { operation: ['submitProof', 'registerVk'], inputSource: ['json'] }, hide: { vkMode: ['hash'] } },
	},
	{
		displayName: 'VK Hash',
		name: 'vkHash',
		type: 'string',
		default: '',
		required: true,
		placeholder: '0xb287bffe9c629ea3a572b6e319992ecc0311340f20edceaedabd26bc2b95b9b4',
		description: 'The vkHash that Register VK returned',
		...show(['submitProof'], { vkMode: ['hash'] }),
	},
	{
		displayName: 'Proof File Field',
		name: 'proofBinaryProperty',
		type: 'string',
		default: 'proof',
		required: true,
		description: 'Name of the binary field of the input item that holds the proof file',
		...show(['submitProof'], { inputSource: ['binary'] }),
	},
	{
		displayName: 'Public Signals File Field',
		name: 'publicSignalsBinaryProperty',
		type: 'string',
		default: '',
		description: 'Binary field with the public signals file. Leave empty when there is none.',
		...show(['submitProof'], { inputSource: ['binary'] }),
	},
	{
		displayName: 'VK File Field',
		name: 'vkBinaryProperty',
		type: 'string',
		default: 'vk',
		required: true,
		description: 'Name of the binary field of the input item that holds the verification key file',
		displayOptions: { show: { operation: ['submitProof', 'registerVk'], inputSource: ['binary'] }, hide: { vkMode: ['hash'] } },
	},
	jobIdProperty(show(['getJobStatus', 'waitForJob']).displayOptions),
	timeoutSecondsProperty(WAIT, show(['waitForJob']).displayOptions),
	failOnFailureProperty(WAIT, show(['waitForJob']).displayOptions),
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		description: 'Settings most proofs and waits leave at their defaults',
		...show(['submitProof', 'waitForJob']),
		options: [
			{
				displayName: 'Destination Chain ID',
				name: 'chainId',
				type: 'number',
				default: 0,
				description: 'EVM chain to publish the aggregation to (e.g. 84532 Base Sepolia). The job then ends at Aggregated instead of Finalized.',
				displayOptions: { show: { '/operation': ['submitProof'] } },
			},
			{
				displayName: 'Submission Mode',
				name: 'submissionMode',
				type: 'options',
				options: [
					{ name: 'Attestation', value: 'attestation', description: 'What Kurier\'s examples send; right for almost every proof' },
					{ name: 'Direct', value: 'direct', description: 'Kurier\'s direct mode; its API reference lists Base Sepolia (84532) as the only destination' },
				],
				default: 'attestation',
				description: 'Kurier\'s submissionMode field. Leave at Attestation unless Kurier told you to use Direct.',
				displayOptions: { show: { '/operation': ['submitProof'] } },
			},
			{
				displayName: 'Fail If Optimistic Verification Fails',
				name: 'failOnRejectedProof',
				type: 'boolean',
				default: true,
				description: 'Whether to stop with an error when Kurier\'s optimistic verification rejects the proof (a job ID is still created)',
				displayOptions: { show: { '/operation': ['submitProof'] } },
			},
			{
				displayName: 'Submission Mode',
				name: 'jobSubmissionMode',
				type: 'options',
				options: [
					{ name: 'From the Job', value: 'fromJob', description: 'Kurier\'s own submissionMode field where its job status has one; else Attestation' },
					{ name: 'Attestation', value: 'attestation', description: 'With a destination chain the job ends at Aggregated' },
					{ name: 'Direct', value: 'direct', description: 'No aggregation: the job ends at Finalized even with a destination chain' },
				],
				default: 'fromJob',
				description: 'How the job was submitted. Kurier\'s job status may not say, so for a job submitted with Submission Mode Direct, choose Direct (or map the submissionMode field of the Submit Proof output) so the wait ends at Finalized.',
				displayOptions: { show: { '/operation': ['waitForJob'] } },
			},
			pollIntervalOption(WAIT, { show: { '/operation': ['waitForJob'] } }),
		],
	},
];

export class Kurier implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Kurier',
		name: 'kurier',
		icon: { light: 'file:kurier.svg', dark: 'file:kurier.dark.svg' },
		group: ['transform'],
		version: 1,
		subtitle: '={{$parameter["operation"]}}',
		description: 'Submit zero-knowledge proofs to Kurier (zkVerify) and follow their jobs',
		defaults: { name: 'Kurier' },
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		credentials: [{ name: 'kurierApi', required: true, testedBy: 'kurierApiCredentialTest' }],
		properties,
	};

	methods = {
		credentialTest: { [KURIER_CREDENTIAL_TEST]: kurierApiCredentialTest },
		loadOptions: {
			async getProofTypes(this: ILoadOptionsFunctions): Promise<INodePropertyOptions[]> {
				return await kurierProofTypeOptions(this);
			},
		},
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		const client = await kurierClientFor(this);
		return await executeForEachItem(this, client.redact, async (itemIndex) => await runOperation(this, client, itemIndex));
	}
}

async function runOperation(context: IExecuteFunctions, client: KurierApiClient, itemIndex: number): Promise<IDataObject> {
	const operation = context.getNodeParameter('operation', itemIndex) as string;
	switch (operation) {
		case 'submitProof':
			return await submitProof(context, client, itemIndex);
		case 'registerVk': {
			const { vkHash, alreadyRegistered } = await client.registerVk({
				proofType: context.getNodeParameter('proofType', itemIndex) as string,
				proofOptions: proofOptionsOf(context, itemIndex),
				vk: await readVk(context, itemIndex),
			});
			return { vkHash, alreadyRegistered };
		}
		case 'getJobStatus':
			return asItemJson(normalizeKurierJob(await client.getJobStatus(jobIdOf(context, itemIndex)), new Date().toISOString()));
		case 'waitForJob':
			return await waitForJob(context, client, itemIndex);
		default:
			throw new NodeOperationError(context.getNode(), `Unknown operation "${operation}"`, { itemIndex });
	}
}

async function submitProof(context: IExecuteFunctions, client: KurierApiClient, itemIndex: number): Promise<IDataObject> {
	const proofType = context.getNodeParameter('proofType', itemIndex) as string;
	const proofOptions = proofOptionsOf(context, itemIndex);
	const vkMode = context.getNodeParameter('vkMode', itemIndex) as 'inline' | 'hash' | 'registerFirst';
	const options = context.getNodeParameter('options', itemIndex, {}) as IDataObject;
	const { proof, publicSignals } = shapeProofParts(proofType, await readProof(context, itemIndex));

	let vk: unknown;
	let registration: IDataObject = {};
	if (vkMode === 'hash') {
		vk = String(context.getNodeParameter('vkHash', itemIndex) ?? '').trim();
		if (!vk) throw new NodeOperationError(context.getNode(), 'No VK hash given', { itemIndex, description: 'Enter the vkHash that Register VK returned, or choose "Send Full VK".' });
	} else {
		vk = shapeVk(proofType, await readVk(context, itemIndex));
		if (vkMode === 'registerFirst') {
			const { vkHash, alreadyRegistered } = await client.registerVk({ proofType, proofOptions, vk });
			vk = vkHash;
			registration = { vkHash, vkAlreadyRegistered: alreadyRegistered };
		}
	}

	const request: SubmitProofRequest = {
		proofType,
		vkRegistered: vkMode !== 'inline',
		proofData: { proof, vk, ...(publicSignals === undefined ? {} : { publicSignals }) },
		...(proofOptions ? { proofOptions } : {}),
	};
	const chainId = Number(options.chainId ?? 0);
	if (chainId > 0) request.chainId = chainId;
	if (typeof options.submissionMode === 'string') request.submissionMode = options.submissionMode;

	const response = await client.submitProof(request);
	// What was asked for travels with the job, so Wait for Job can map {{ $json.submissionMode }}.
	const asked: IDataObject = {};
	if (request.chainId !== undefined) asked.chainId = request.chainId;
	if (request.submissionMode !== undefined) asked.submissionMode = request.submissionMode;
	if (response.optimisticVerify !== 'success' && options.failOnRejectedProof !== false) {
		throw new NodeOperationError(context.getNode(), `Kurier's optimistic verification rejected the proof (job ${response.jobId})`, {
			itemIndex,
			description: `optimisticVerify: ${response.optimisticVerify}${response.error ? `, ${response.error}` : ''}. Check the proof type, proof options and that proof, public signals and VK belong together. Turn off "Fail If Optimistic Verification Fails" to output the job instead.`,
		});
	}
	return { ...response, proofType, ...asked, ...registration } as IDataObject;
}

async function waitForJob(context: IExecuteFunctions, client: KurierApiClient, itemIndex: number): Promise<IDataObject> {
	const jobId = jobIdOf(context, itemIndex);
	const mode = (context.getNodeParameter('options', itemIndex, {}) as IDataObject).jobSubmissionMode;
	const submissionMode: KurierSubmissionMode | undefined = mode === 'direct' || mode === 'attestation' ? mode : undefined;
	return await runWaitOperation(context, itemIndex, {
		parameters: WAIT,
		subject: `Kurier job ${jobId}`,
		timeoutHint: 'use the Kurier Trigger to react when the job moves on',
		wait: async (timing) => await waitForKurierJob({ client, jobId, submissionMode, logger: context.logger, ...timing }),
	});
}

function jobIdOf(context: IExecuteFunctions, itemIndex: number): string {
	return readJobId(context.getNode(), context.getNodeParameter('jobId', itemIndex, ''), itemIndex);
}

function proofOptionsOf(context: IExecuteFunctions, itemIndex: number): Record<string, unknown> | undefined {
	return withItem(context, itemIndex, () => parseProofOptions(context.getNodeParameter('proofOptions', itemIndex, '{}')));
}

async function readProof(context: IExecuteFunctions, itemIndex: number): Promise<{ proof: unknown; publicSignals: unknown }> {
	if (context.getNodeParameter('inputSource', itemIndex) === 'binary') {
		const proof = await readFile(context, itemIndex, context.getNodeParameter('proofBinaryProperty', itemIndex) as string, 'Proof');
		const signalsField = String(context.getNodeParameter('publicSignalsBinaryProperty', itemIndex, '') ?? '').trim();
		const publicSignals = signalsField ? await readFile(context, itemIndex, signalsField, 'Public signals') : undefined;
		return { proof, publicSignals };
	}
	return withItem(context, itemIndex, () => ({
		proof: parseProofField(context.getNodeParameter('proof', itemIndex), 'Proof'),
		publicSignals: parseOptionalProofField(context.getNodeParameter('publicSignals', itemIndex, ''), 'Public Signals'),
	}));
}

async function readVk(context: IExecuteFunctions, itemIndex: number): Promise<unknown> {
	if (context.getNodeParameter('inputSource', itemIndex) === 'binary') {
		return await readFile(context, itemIndex, context.getNodeParameter('vkBinaryProperty', itemIndex) as string, 'VK');
	}
	return withItem(context, itemIndex, () => parseProofField(context.getNodeParameter('vk', itemIndex), 'VK'));
}

async function readFile(context: IExecuteFunctions, itemIndex: number, field: string, label: string): Promise<unknown> {
	context.helpers.assertBinaryData(itemIndex, field);
	const bytes = await context.helpers.getBinaryDataBuffer(itemIndex, field);
	return withItem(context, itemIndex, () => decodeProofFile(bytes, label));
}

/** Wording errors of the user's input as NodeOperationErrors on the right item. */
function withItem<T>(context: IExecuteFunctions, itemIndex: number, read: () => T): T {
	try {
		return read();
	} catch (error) {
		if (error instanceof ProofInputError) throw new NodeOperationError(context.getNode(), error.message, { itemIndex });
		throw error;
	}
}
