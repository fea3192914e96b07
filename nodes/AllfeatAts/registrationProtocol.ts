import { createHash } from 'node:crypto';
import { z } from 'zod/v4';

/**
 * Allfeat ATS registration protocol (organization API): the answers of init / prepare / confirm,
 * the error codes of the envelope with what each means for the user, the size limits and the
 * content-derived idempotency key. No n8n types here. Source: ../shared/api/allfeat-registration.md.
 */

/** networks.mdx: larger files are refused (a key may carry a smaller cap, which the service enforces). */
export const MAX_AUDIO_BYTES = 500 * 1024 * 1024;
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;
export const MAX_EXTERNAL_USER_REF_BYTES = 255;
export const ALLFEAT_NETWORKS = ['testnet', 'mainnet'] as const;
export type AllfeatNetwork = (typeof ALLFEAT_NETWORKS)[number];
export const CREATOR_ROLES = ['author', 'composer', 'arranger', 'adapter'] as const;
export type CreatorRole = (typeof CREATOR_ROLES)[number];

export const initAnswerSchema = z.looseObject({
	job_id: z.string().min(1),
	upload_url: z.string().min(1).optional(),
	upload_expires_at: z.string().optional(),
});
export type InitAnswer = z.infer<typeof initAnswerSchema>;

const credits = z.number();

/** The price quote; every price field as the service sent it is handed to the user. */
export const quoteSchema = z.looseObject({
	job_id: z.string().optional(),
	work_id: z.string().optional(),
	commitment: z.string().optional(),
	network_fee_credits: credits.optional(),
	total_deposit_credits: credits.optional(),
	service_fee_credits: credits.optional(),
	storage_fee_credits: credits.optional(),
	version_deposit_credits: credits.optional(),
	total_price_credits: credits,
	is_valid: z.boolean(),
	expires_at: z.string().optional(),
});
export type Quote = z.infer<typeof quoteSchema>;

export const confirmAnswerSchema = z.looseObject({
	transaction_id: z.string().min(1),
	ws_url: z.string().optional(),
	status_url: z.string().optional(),
});
export type ConfirmAnswer = z.infer<typeof confirmAnswerSchema>;

/** The error envelope on every non-2xx answer: `{ error: { code, message, details, request_id } }`. */
export const errorEnvelopeSchema = z.looseObject({
	error: z.looseObject({
		code: z.string(),
		message: z.string().optional(),
		details: z.record(z.string(), z.unknown()).nullish(),
		request_id: z.string().nullish(),
	}),
});

export interface ApiCreator {
	full_name: string;
	email: string;
	roles: Record<CreatorRole, boolean>;
	ipi?: string;
	isni?: string;
}

export interface CreatorInput {
	fullName: string;
	email: string;
	roles: string[];
	ipi?: string;
	isni?: string;
}

/** A creator as the API takes it: every role named, as a boolean; optional identifiers only when set. */
export function toApiCreator(creator: CreatorInput): ApiCreator {
	const roles = Object.fromEntries(CREATOR_ROLES.map((role) => [role, creator.roles.includes(role)])) as Record<CreatorRole, boolean>;
	return {
		full_name: creator.fullName.trim(),
		email: creator.email.trim(),
		roles,
		...(creator.ipi?.trim() ? { ipi: creator.ipi.trim() } : {}),
		...(creator.isni?.trim() ? { isni: creator.isni.trim() } : {}),
	};
}

export interface IdempotencyContent {
	operation: 'registerWork' | 'addVersion';
	organizationId: string;
	network: string;
	/** SHA-256 (hex) of the audio; null for a version that keeps the registered file. */
	fileSha256: string | null;
	title?: string;
	workId?: string;
	creators: ApiCreator[];
}

/**
 * The default Idempotency-Key: one per logical registration, so that n8n re-running an item (Retry
 * On Fail, a retried execution, the same file twice) replays the first `init` instead of starting a
 * second registration. It covers what makes the registration this one (file, title, network,
 * creators, organization, the work for a version) and nothing that changes between runs.
 */
export function deriveIdempotencyKey(content: IdempotencyContent): string {
	const canonical = JSON.stringify([
		'allfeat-ats-registration/1',
		content.operation,
		content.organizationId,
		content.network,
		content.fileSha256,
		content.title ?? null,
		content.workId ?? null,
		content.creators.map((c) => [c.full_name, c.email.toLowerCase(), CREATOR_ROLES.filter((role) => c.roles[role]), c.ipi ?? null, c.isni ?? null]),
	]);
	const prefix = content.operation === 'registerWork' ? 'n8n-register' : 'n8n-version';
	return `${prefix}-${createHash('sha256').update(canonical).digest('hex')}`;
}

/** What a code of the envelope means for the user: the sentence, and what to do about it. */
export interface CodeExplanation {
	meaning: string;
	hint: string;
}

export const REGISTRATION_CODES: Record<string, CodeExplanation> = {
	'api_key.invalid_format': {
		meaning: 'the API key is not an organization key',
		hint: 'Paste the afo_sk_live_… key (60 characters) into the credential\'s API Key field.',
	},
	'api_key.not_found': { meaning: 'Allfeat does not know this API key', hint: 'Check the API Key in the credential, or create a new key in the Allfeat dashboard.' },
	'api_key.revoked': { meaning: 'the API key was revoked', hint: 'Create a new key in the Allfeat dashboard and put it in the credential.' },
	'api_key.org_mismatch': {
		meaning: 'the API key does not belong to this organization',
		hint: 'Set the credential\'s Organization ID to the organization that issued the key.',
	},
	'api_key.scope_denied': {
		meaning: 'the API key lacks the scope this call needs',
		hint: 'Give the key the works:register scope (Register Work) or works:update (Add Version) in the Allfeat dashboard.',
	},
	'api_key.org_inactive': { meaning: 'the organization is not active', hint: 'Reactivate the organization in the Allfeat dashboard (or ask Allfeat why it is inactive).' },
	'common.forbidden': { meaning: 'the organization does not have enough credits', hint: 'Top up the organization\'s credits, then run the item again.' },
	'work.access_forbidden': { meaning: 'this work belongs to another organization', hint: 'Check the Work ID: only works registered by this organization can get versions.' },
	'registration.upload_session_not_found': {
		meaning: 'Allfeat has no upload for this job (it expired, or the job was already confirmed)',
		hint: 'Run the item again; if it was confirmed before, look for its transaction instead.',
	},
	'registration.prepared_not_found': {
		meaning: 'Allfeat has no quote to confirm for this job (already confirmed, or the quote expired)',
		hint: 'Look for the transaction of the first confirm (Allfeat ATS Webhook Trigger, or the execution that ran it) before running the item again.',
	},
	'registration.audio_too_large': { meaning: 'the audio file is larger than this key may upload', hint: 'Upload a smaller file (Allfeat refuses files over 500 MB; a key may carry a smaller cap).' },
	'registration.title_required': { meaning: 'the title is missing', hint: 'Fill in Title.' },
	'registration.filename_required': { meaning: 'the file name is missing', hint: 'Set File Name in the options, or give the binary a file name.' },
	'registration.creators_required': { meaning: 'no creator was given', hint: 'Add at least one creator.' },
	'registration.audio_empty': { meaning: 'the audio file is empty', hint: 'Check the node that produced the binary.' },
	'registration.dry_run_failed': { meaning: 'Allfeat\'s dry run of the registration failed', hint: 'Nothing was debited. Check the reason above; fix the input or try again later.' },
	'common.validation_failed': { meaning: 'Allfeat refused some fields', hint: 'Fix the fields named above.' },
	'common.quota_exceeded': { meaning: 'the testnet quota of the organization is used up', hint: 'Wait until the quota resets, or register on mainnet.' },
	'api_key.limit_reached': { meaning: 'the API key reached its limit', hint: 'Raise the key\'s limit in the Allfeat dashboard, or use another key.' },
	'common.service_unavailable': { meaning: 'Allfeat is temporarily unavailable', hint: 'Try again in a moment.' },
};

/** 422 `common.validation_failed`: the fields the service named, as `field: problem` (object or list form). */
export function describeFieldErrors(details: Record<string, unknown> | null | undefined): string[] {
	const fields = details?.fields;
	if (Array.isArray(fields)) {
		return fields.map((entry) => {
			if (typeof entry === 'string') return entry;
			const record = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<string, unknown>;
			const name = record.field ?? record.name ?? record.path;
			const problem = record.message ?? record.error ?? record.reason;
			return `${typeof name === 'string' ? name : '?'}${typeof problem === 'string' ? `: ${problem}` : ''}`;
		});
	}
	if (typeof fields === 'object' && fields !== null) {
		return Object.entries(fields).map(([name, problem]) => `${name}: ${Array.isArray(problem) ? problem.join(', ') : String(problem)}`);
	}
	return [];
}
