import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';

import { BINARY_ENCODING, NodeApiError, NodeOperationError } from 'n8n-workflow';
import type { IDataObject, IExecuteFunctions, INodeProperties } from 'n8n-workflow';

import { CredentialError } from '../shared/credentialFields';
import { ServiceApiError, ServiceUnreachableError } from '../shared/http';
import { asItemJson } from '../shared/n8n';
import { WaitTimeoutError } from '../shared/waitUntilFinal';
import type { AllfeatAtsApiClient } from './AllfeatAtsApiClient';
import { AllfeatRegistrationError } from './AllfeatRegistrationClient';
import type { AllfeatRegistrationClient, RegistrationBody, UploadSource } from './AllfeatRegistrationClient';
import type { ApiCreator, CreatorInput, InitAnswer, Quote } from './registrationProtocol';
import {
	ALLFEAT_NETWORKS,
	CREATOR_ROLES,
	MAX_AUDIO_BYTES,
	MAX_EXTERNAL_USER_REF_BYTES,
	MAX_IDEMPOTENCY_KEY_LENGTH,
	deriveIdempotencyKey,
	toApiCreator,
} from './registrationProtocol';
import { waitForAllfeatTransaction } from './waitForTransaction';

/**
 * n8n glue of Register Work and Add Version: parameters, the audio from n8n's binary data store,
 * and the init → upload → prepare → confirm flow with its never-twice rules:
 * - the Idempotency-Key (default: derived from the content) makes a re-run item replay its first
 *   `init`; a replayed job that was already confirmed ends in an "already submitted" error;
 * - `init` and `prepare` are retried on 503 / no answer (the first is idempotent, the second only
 *   quotes); `confirm` is retried only on a 503 that says nothing was debited.
 */

export type RegistrationOperation = 'registerWork' | 'addVersion';
export const REGISTRATION_OPERATIONS: RegistrationOperation[] = ['registerWork', 'addVersion'];

export function isRegistrationOperation(operation: string): operation is RegistrationOperation {
	return (REGISTRATION_OPERATIONS as string[]).includes(operation);
}

const show = (operation: string[], extra: Record<string, unknown[]> = {}) => ({ displayOptions: { show: { operation, ...extra } } });
const BOTH = ['registerWork', 'addVersion'];
const DEFAULT_WAIT_TIMEOUT_S = 300;
const WAIT_POLL_INTERVAL_MS = 2_000;
const ATTEMPTS = 3;

export const registrationProperties: INodeProperties[] = [
	{
		displayName: 'Input Binary Field',
		name: 'binaryPropertyName',
		type: 'string',
		default: 'data',
		required: true,
		description: 'The binary property of the input item holding the audio (from Read File, HTTP Request, a form upload, Google Drive …)',
		...show(['registerWork']),
	},
	{
		displayName: 'Work ID',
		name: 'workId',
		type: 'string',
		default: '',
		required: true,
		placeholder: '6f1c2a4e-9b7d-4c3e-8f21-0a5b6c7d8e9f',
		description: 'The work_id of the registered work (in Register Work\'s quote.work_id)',
		...show(['addVersion']),
	},
	{
		displayName: 'Upload a New File',
		name: 'newFile',
		type: 'boolean',
		default: false,
		description: 'Whether the version has a new audio file (uploaded from the input item) instead of keeping the registered one',
		...show(['addVersion']),
	},
	{
		displayName: 'Input Binary Field',
		name: 'binaryPropertyName',
		type: 'string',
		default: 'data',
		required: true,
		description: 'The binary property of the input item holding the new audio',
		...show(['addVersion'], { newFile: [true] }),
	},
	{
		displayName: 'Title',
		name: 'title',
		type: 'string',
		default: '',
		required: true,
		description: 'The work\'s title',
		...show(['registerWork']),
	},
	{
		displayName: 'Network',
		name: 'network',
		type: 'options',
		options: [
			{ name: 'Testnet', value: 'testnet', description: 'Only the storage fee is charged; files up to 10 MB register for 0 credits' },
			{ name: 'Mainnet', value: 'mainnet', description: 'Full price' },
		],
		default: 'testnet',
		description: 'The chain the work is registered on',
		...show(BOTH),
	},
	{
		displayName: 'Creators',
		name: 'creators',
		type: 'fixedCollection',
		typeOptions: { multipleValues: true },
		placeholder: 'Add Creator',
		default: {},
		required: true,
		description: 'Who made the work: at least one',
		...show(BOTH),
		options: [
			{
				displayName: 'Creator',
				name: 'creator',
				values: [
					{ displayName: 'Email', name: 'email', type: 'string', placeholder: 'name@email.com', default: '', required: true, description: 'The creator\'s email address' },
					{ displayName: 'Full Name', name: 'fullName', type: 'string', default: '', required: true, description: 'The creator\'s full legal name' },
					{ displayName: 'IPI', name: 'ipi', type: 'string', default: '', description: 'Optional Interested Party Information number' },
					{ displayName: 'ISNI', name: 'isni', type: 'string', default: '', description: 'Optional International Standard Name Identifier' },
					{
						displayName: 'Roles',
						name: 'roles',
						type: 'multiOptions',
						options: CREATOR_ROLES.map((role) => ({ name: role[0].toUpperCase() + role.slice(1), value: role })),
						default: ['author'],
						description: 'At least one',
					},
				],
			},
		],
	},
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		description: 'Price guard, waiting, idempotency and less common settings',
		...show(BOTH),
		options: [
			{
				displayName: 'External User Reference',
				name: 'externalUserRef',
				type: 'string',
				default: '',
				description: 'Your own reference (at most 255 bytes); Allfeat repeats it in the webhook',
			},
			{
				displayName: 'File Name',
				name: 'fileName',
				type: 'string',
				default: '',
				description: 'The file name sent to Allfeat. Default: the binary\'s file name.',
			},
			{
				displayName: 'Idempotency Key',
				name: 'idempotencyKey',
				type: 'string',
				default: '',
				description:
					'One key per registration, reused when the item runs again: Allfeat then answers with the first run\'s job instead of starting a second registration. Default: derived from the file, title, network, creators and organization. At most 255 characters.',
			},
			{
				displayName: 'Maximum Price',
				name: 'maximumPrice',
				type: 'number',
				typeOptions: { minValue: 0 },
				default: 0,
				description: 'In credits: when the quote is higher, stop before confirming (nothing is debited) with the quote in the error',
			},
			{
				displayName: 'Timeout (Seconds)',
				name: 'timeout',
				type: 'number',
				typeOptions: { minValue: 1 },
				default: DEFAULT_WAIT_TIMEOUT_S,
				description: 'With Wait Until Final: how long to wait for the transaction to be completed or failed',
			},
			{
				displayName: 'Wait Until Final',
				name: 'waitUntilFinal',
				type: 'boolean',
				default: false,
				description:
					'Whether to return the final transaction (completed or failed, as Wait for Transaction does) instead of its ID and tracking URLs at once',
			},
		],
	},
];

interface RegistrationOptionsInput {
	externalUserRef?: string;
	fileName?: string;
	idempotencyKey?: string;
	maximumPrice?: number;
	timeout?: number;
	waitUntilFinal?: boolean;
}

interface Audio {
	source: UploadSource;
	fileName: string | undefined;
	propertyName: string;
}

/** Registrations already run in this execution, by idempotency key: the item index that ran it. */
export type SeenRegistrations = Map<string, number>;

export async function runRegistration(
	context: IExecuteFunctions,
	client: AllfeatAtsApiClient,
	operation: RegistrationOperation,
	itemIndex: number,
	seen: SeenRegistrations,
): Promise<IDataObject> {
	const node = context.getNode();
	const fail = (message: string, description?: string) => new NodeOperationError(node, message, { itemIndex, description });
	let registration: AllfeatRegistrationClient;
	try {
		registration = client.registration();
	} catch (error) {
		if (error instanceof CredentialError) throw fail(error.message);
		throw error;
	}
	const options = context.getNodeParameter('options', itemIndex, {}) as RegistrationOptionsInput;
	const network = String(context.getNodeParameter('network', itemIndex, 'testnet'));
	if (!(ALLFEAT_NETWORKS as readonly string[]).includes(network)) throw fail(`Network "${network}" is not one Allfeat knows`, 'Choose testnet or mainnet.');
	const creators = readCreators(context, itemIndex);
	const workId = operation === 'addVersion' ? readWorkId(context, itemIndex) : undefined;
	const title = operation === 'registerWork' ? textParameter(context, 'title', itemIndex) : undefined;
	if (title === '') throw fail('No title given', 'Fill in Title (an expression that resolves to nothing reaches the node as empty).');
	const withFile = operation === 'registerWork' || context.getNodeParameter('newFile', itemIndex, false) === true;
	const audio = withFile ? await readAudio(context, itemIndex) : null;
	const fileName = (options.fileName ?? '').trim() || audio?.fileName;
	if (audio && !fileName) {
		throw fail(`The binary property "${audio.propertyName}" has no file name`, 'Set File Name in the options (Allfeat needs one).');
	}
	const externalUserRef = (options.externalUserRef ?? '').trim();
	if (Buffer.byteLength(externalUserRef) > MAX_EXTERNAL_USER_REF_BYTES) throw fail(`The External User Reference is longer than ${MAX_EXTERNAL_USER_REF_BYTES} bytes`);
	const maximumPrice = typeof options.maximumPrice === 'number' && options.maximumPrice >= 0 ? options.maximumPrice : undefined;

	const organizationId = client.organizationId ?? '';
	const explicitKey = (options.idempotencyKey ?? '').trim();
	const idempotencyKey =
		explicitKey ||
		deriveIdempotencyKey({ operation, organizationId, network, fileSha256: audio ? await sha256Of(audio.source) : null, title, workId, creators });
	if (idempotencyKey.length > MAX_IDEMPOTENCY_KEY_LENGTH) throw fail(`The Idempotency Key is longer than ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`);
	const earlier = seen.get(idempotencyKey);
	if (earlier !== undefined) {
		throw fail(
			`Item ${itemIndex} is the same registration as item ${earlier} of this execution (Idempotency-Key ${idempotencyKey}): it was not submitted twice`,
			explicitKey
				? 'Give each item its own Idempotency Key to register both.'
				: 'Same file, title, network, creators and organization. To register it again on purpose, set an Idempotency Key of your own.',
		);
	}
	seen.set(idempotencyKey, itemIndex);

	const body: RegistrationBody = {
		network,
		creators,
		...(title !== undefined ? { title } : {}),
		...(audio ? { filename: fileName } : {}),
		...(externalUserRef ? { external_user_ref: externalUserRef } : {}),
	};
	const subject = operation === 'registerWork' ? `the registration of "${title}"` : `the new version of work ${workId}`;

	// 1. init: idempotent per key, so retrying a lost answer is safe.
	let init: InitAnswer;
	try {
		init = await retrying(async () =>
			workId === undefined ? await registration.initWork(body, idempotencyKey) : await registration.initVersion(workId, body, withFile, idempotencyKey),
		);
	} catch (error) {
		throw toRegistrationNodeError(context, error, itemIndex);
	}
	const jobId = init.job_id;
	const alreadySubmitted = (how: string) =>
		fail(
			`${capitalized(subject)} was probably already submitted: Allfeat answered its Idempotency-Key with job ${jobId} from an earlier run, and ${how}. Nothing was submitted or debited now.`,
			`Find the first run's transaction before trying again: the output of the execution that ran it (job ${jobId}), or the Allfeat ATS Webhook Trigger's work_registered / work_updated event${externalUserRef ? ` (external_user_ref ${externalUserRef})` : ''}. To register it again on purpose, set another Idempotency Key (this one: ${idempotencyKey}).`,
		);

	// 2. upload: a replayed init hands back the first run's single-use URL, which is refused when used.
	let uploadRefused: AllfeatRegistrationError | null = null;
	if (audio) {
		if (!init.upload_url) throw new ServiceApiError(`Allfeat ATS init answered without an upload_url for job ${jobId}`, 200, null);
		try {
			await registration.upload(init.upload_url, audio.source, context.getExecutionCancelSignal?.());
		} catch (error) {
			if (!(error instanceof AllfeatRegistrationError) || ![403, 404, 409, 410].includes(error.httpStatus)) throw toRegistrationNodeError(context, error, itemIndex);
			uploadRefused = error;
		}
	}

	// 3. prepare: the quote; preparing again only replaces it.
	let quote: Quote;
	try {
		quote = await retrying(async () => await registration.prepare(jobId, workId));
	} catch (error) {
		if (uploadRefused && error instanceof AllfeatRegistrationError && error.serviceCode === 'registration.upload_session_not_found') {
			throw alreadySubmitted('its upload URL was already used or expired and it no longer has an upload to prepare');
		}
		throw toRegistrationNodeError(context, uploadRefused ?? error, itemIndex);
	}
	const quoteJson = quote as unknown as IDataObject;
	if (!quote.is_valid) {
		const reason = typeof quote.reason === 'string' ? `: ${quote.reason}` : '';
		throw fail(`Allfeat's quote for ${subject} is not valid${reason}. Nothing was confirmed or debited.`, `Quote: ${JSON.stringify(quote)}`);
	}
	if (maximumPrice !== undefined && quote.total_price_credits > maximumPrice) {
		throw fail(
			`The quote for ${subject} is ${quote.total_price_credits} credits, above the Maximum Price of ${maximumPrice}: stopped before confirming, nothing was debited`,
			`Quote (job ${jobId}): ${JSON.stringify(quote)}. Raise Maximum Price to accept it.`,
		);
	}

	// 4. confirm: debits the quote; never repeated unless the service says nothing was debited.
	let confirmed;
	try {
		confirmed = await retrying(async () => await registration.confirm(jobId, workId), isUndebitedConfirmRefusal);
	} catch (error) {
		if (error instanceof AllfeatRegistrationError && error.serviceCode === 'registration.prepared_not_found') {
			throw alreadySubmitted('it has no prepared quote left to confirm (a confirm of it was already accepted, or its quote expired)');
		}
		if (error instanceof ServiceUnreachableError) {
			throw fail(
				`The confirm of ${subject} (job ${jobId}) got no answer: Allfeat may have accepted it and debited the quote, so it was not sent again`,
				`${error.message}. Look for the transaction (Allfeat ATS Webhook Trigger) before running the item again: a re-run with the same Idempotency-Key (${idempotencyKey}) stops before a second debit.`,
			);
		}
		throw toRegistrationNodeError(context, error, itemIndex);
	}
	const transactionId = confirmed.transaction_id;
	const statusUrl = client.absoluteUrl(confirmed.status_url ?? `/v1/transactions/${transactionId}`);
	const wsUrl = client.absoluteUrl(confirmed.ws_url ?? `/v1/ws/transactions/${transactionId}`).replace(/^http/i, 'ws');
	if (options.waitUntilFinal !== true) return { transactionId, jobId, statusUrl, wsUrl, quote: quoteJson };

	const timeoutSeconds = typeof options.timeout === 'number' && options.timeout > 0 ? options.timeout : DEFAULT_WAIT_TIMEOUT_S;
	try {
		const item = await waitForAllfeatTransaction({
			client,
			transactionId,
			timeoutMs: timeoutSeconds * 1000,
			pollIntervalMs: WAIT_POLL_INTERVAL_MS,
			logger: context.logger,
			signal: context.getExecutionCancelSignal?.(),
		});
		return { ...asItemJson(item), jobId, quote: quoteJson };
	} catch (error) {
		if (error instanceof WaitTimeoutError) {
			throw fail(
				`${capitalized(subject)} was submitted (transaction ${transactionId}) but ${error.message.replace(/^Allfeat ATS transaction \S+ /, '')}`,
				`Do not run the item again (it would stop before a second debit anyway): follow transaction ${transactionId} with Wait for Transaction or the Allfeat ATS Trigger, or raise Timeout (Seconds).`,
			);
		}
		throw error;
	}
}

function readCreators(context: IExecuteFunctions, itemIndex: number): ApiCreator[] {
	const value = context.getNodeParameter('creators', itemIndex, {}) as { creator?: CreatorInput[] };
	const list = Array.isArray(value.creator) ? value.creator : [];
	const node = context.getNode();
	if (list.length === 0) {
		throw new NodeOperationError(node, 'No creator given', { itemIndex, description: 'Add at least one creator (full name, email, roles).' });
	}
	return list.map((creator, index) => {
		const where = `Creator ${index + 1}`;
		const roles = Array.isArray(creator.roles) ? creator.roles : typeof creator.roles === 'string' ? String(creator.roles).split(',').map((r) => r.trim()) : [];
		const problems = [
			typeof creator.fullName === 'string' && creator.fullName.trim() ? null : 'no full name',
			typeof creator.email === 'string' && /^[^@\s]+@[^@\s]+$/.test(creator.email.trim()) ? null : 'no valid email',
			roles.some((role) => (CREATOR_ROLES as readonly string[]).includes(role)) ? null : 'no role (author, composer, arranger or adapter)',
		].filter((problem): problem is string => problem !== null);
		if (problems.length > 0) throw new NodeOperationError(node, `${where} has ${problems.join(', ')}`, { itemIndex });
		return toApiCreator({ ...creator, roles, ipi: String(creator.ipi ?? ''), isni: String(creator.isni ?? '') });
	});
}

function readWorkId(context: IExecuteFunctions, itemIndex: number): string {
	const workId = textParameter(context, 'workId', itemIndex);
	if (!workId) {
		throw new NodeOperationError(context.getNode(), 'No work ID given', { itemIndex, description: 'Map the work_id of the registered work, e.g. {{ $json.quote.work_id }} from Register Work.' });
	}
	return workId;
}

/**
 * The audio of the item's binary property, checked (not empty, not over 500 MB) before anything is
 * sent. Where n8n keeps binaries outside the item (filesystem, database, S3), it is streamed from
 * there with the length of its metadata, never read into memory.
 */
async function readAudio(context: IExecuteFunctions, itemIndex: number): Promise<Audio> {
	const propertyName = String(context.getNodeParameter('binaryPropertyName', itemIndex, 'data')).trim() || 'data';
	const binary = context.helpers.assertBinaryData(itemIndex, propertyName);
	let sizeBytes: number;
	let open: () => Promise<Readable>;
	if (binary.id) {
		const id = binary.id;
		const metadata = await context.helpers.getBinaryMetadata(id);
		sizeBytes = Number(metadata.fileSize);
		open = async () => await context.helpers.getBinaryStream(id);
	} else {
		const buffer = Buffer.from(binary.data, BINARY_ENCODING);
		sizeBytes = buffer.length;
		open = async () => Readable.from([buffer]);
	}
	const node = context.getNode();
	if (!Number.isFinite(sizeBytes)) throw new NodeOperationError(node, `The size of the binary property "${propertyName}" is unknown`, { itemIndex });
	if (sizeBytes === 0) {
		throw new NodeOperationError(node, `The audio in the binary property "${propertyName}" is empty`, { itemIndex, description: 'Check the node that produced the file. Nothing was sent to Allfeat.' });
	}
	if (sizeBytes > MAX_AUDIO_BYTES) {
		throw new NodeOperationError(node, `The audio in the binary property "${propertyName}" is ${sizeBytes} bytes, over Allfeat's limit of ${MAX_AUDIO_BYTES} bytes (500 MB)`, {
			itemIndex,
			description: 'Nothing was sent to Allfeat. Compress or shorten the file.',
		});
	}
	return { propertyName, fileName: binary.fileName, source: { open, sizeBytes, contentType: binary.mimeType || 'application/octet-stream' } };
}

async function sha256Of(source: UploadSource): Promise<string> {
	const hash = createHash('sha256');
	for await (const chunk of await source.open()) hash.update(chunk as Buffer);
	return hash.digest('hex');
}

/** A 503 on confirm is retried only when the service says nothing was debited (`details.debited: false`). */
function isUndebitedConfirmRefusal(error: unknown): boolean {
	return error instanceof AllfeatRegistrationError && error.httpStatus === 503 && error.details.debited === false;
}

/** Safe to repeat: 503 and no answer at all (init is idempotent by key, prepare only quotes). */
function isRetryableRead(error: unknown): boolean {
	return error instanceof ServiceUnreachableError || (error instanceof ServiceApiError && error.httpStatus === 503);
}

async function retrying<T>(call: () => Promise<T>, retryable: (error: unknown) => boolean = isRetryableRead): Promise<T> {
	for (let attempt = 1; ; attempt += 1) {
		try {
			return await call();
		} catch (error) {
			if (attempt >= ATTEMPTS || !retryable(error)) throw error;
			const suggested = error instanceof ServiceApiError ? error.retryAfterMs : null;
			await new Promise((resolve) => setTimeout(resolve, Math.min(suggested ?? 500 * 2 ** (attempt - 1), 10_000)));
		}
	}
}

/** A registration error as n8n shows it: message with code and request id, the code's hint as description. */
export function toRegistrationNodeError(context: IExecuteFunctions, error: unknown, itemIndex: number): unknown {
	if (!(error instanceof AllfeatRegistrationError)) return error;
	return new NodeApiError(
		context.getNode(),
		{ message: error.message, httpCode: String(error.httpStatus), code: error.serviceCode, requestId: error.requestId },
		{ message: error.message, httpCode: String(error.httpStatus), description: error.hint, itemIndex },
	);
}

/** A text parameter trimmed; an expression that resolved to nothing is empty. */
function textParameter(context: IExecuteFunctions, name: string, itemIndex: number): string {
	const value = context.getNodeParameter(name, itemIndex, '') as unknown;
	return typeof value === 'string' ? value.trim() : typeof value === 'number' ? String(value) : '';
}

function capitalized(text: string): string {
	return text[0].toUpperCase() + text.slice(1);
}
