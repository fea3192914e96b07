/**
 * Turns what a user gives for a proof, VK or public signals (a JSON field, an expression result,
 * or a file's bytes) into the value Kurier expects: JSON objects/arrays for snarkjs-style proofs,
 * plain strings (hex or base64) for the others. No n8n types here.
 */
export class ProofInputError extends Error {
	constructor(message: string) {
		super(message);
		this.name = 'ProofInputError';
	}
}

/** A parameter value: objects pass through; text is JSON if it looks like JSON, else a hex/base64 string. */
export function parseProofField(value: unknown, label: string): unknown {
	if (value === undefined || value === null) throw new ProofInputError(`${label} is empty`);
	if (typeof value === 'object') return value;
	if (typeof value === 'number' || typeof value === 'boolean') return value;
	const text = String(value).trim();
	if (text === '') throw new ProofInputError(`${label} is empty`);
	if (!/^[[{"]/.test(text)) return text;
	try {
		return JSON.parse(text) as unknown;
	} catch (error) {
		const reason = error instanceof Error ? error.message : String(error);
		throw new ProofInputError(`${label} is not valid JSON (${reason}). Give a JSON object/array, or a hex or base64 string without quotes.`);
	}
}

/** An optional field: empty means "not sent". */
export function parseOptionalProofField(value: unknown, label: string): unknown {
	if (value === undefined || value === null || (typeof value === 'string' && value.trim() === '')) return undefined;
	return parseProofField(value, label);
}

/** Proof options must be a JSON object (e.g. `{"library":"snarkjs","curve":"bn128"}`). */
export function parseProofOptions(value: unknown): Record<string, unknown> | undefined {
	const parsed = parseOptionalProofField(value, 'Proof Options');
	if (parsed === undefined) return undefined;
	if (typeof parsed !== 'object' || Array.isArray(parsed) || parsed === null) {
		throw new ProofInputError('Proof Options must be a JSON object, for example {"library":"snarkjs","curve":"bn128"}');
	}
	return Object.keys(parsed).length === 0 ? undefined : (parsed as Record<string, unknown>);
}

/**
 * A file's bytes: JSON files (snarkjs proof.json, vkey.json) become their value, text files
 * (hex) their trimmed text, and binary files (bb's ultraplonk output) base64, which Kurier expects.
 */
export function decodeProofFile(bytes: Buffer, label: string): unknown {
	if (bytes.length === 0) throw new ProofInputError(`${label} file is empty`);
	const text = bytes.toString('utf8');
	const isText = Buffer.from(text, 'utf8').equals(bytes) && !/[\u0000-\u0008\u000e-\u001f]/.test(text);
	if (!isText) return bytes.toString('base64');
	return parseProofField(text, `${label} file`);
}

export interface ProofParts {
	proof: unknown;
	publicSignals: unknown;
}

const lines = (text: string): string[] =>
	text
		.split(/\r?\n/)
		.map((line) => line.trim())
		.filter((line) => line !== '');

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Shapes proof and public signals the way zkVerify's official Kurier tutorial sends them
 * (docs.zkverify.io, "Verifying proofs with Kurier"):
 * - UltraHonk: the proof is the first line of `zkv_proof.hex`, and `publicSignals` an array with one
 *   entry per line of `zkv_pubs.hex` (a JSON array is kept as it is);
 * - RISC Zero and SP1: `proof.json` holds `proof`, `pub_inputs` and `image_id`; Kurier gets
 *   `proof.proof` as the proof and `proof.pub_inputs` as the public signals (unless a public signals
 *   file or field was given).
 * Everything else passes through unchanged.
 */
export function shapeProofParts(proofType: string, parts: ProofParts): ProofParts {
	let { proof, publicSignals } = parts;
	if (proofType === 'ultrahonk') {
		if (typeof proof === 'string') proof = lines(proof)[0] ?? proof;
		if (typeof publicSignals === 'string') publicSignals = lines(publicSignals);
	}
	if ((proofType === 'risc0' || proofType === 'sp1') && isObject(proof) && 'proof' in proof) {
		if (publicSignals === undefined && proof.pub_inputs !== undefined) publicSignals = proof.pub_inputs;
		proof = proof.proof;
	}
	return { proof, publicSignals };
}

/**
 * The VK as the tutorial sends it: UltraHonk's first line of `zkv_vk.hex`; for RISC Zero and SP1 the
 * `image_id` of `proof.json` when that file is given as the VK.
 */
export function shapeVk(proofType: string, vk: unknown): unknown {
	if (proofType === 'ultrahonk' && typeof vk === 'string') return lines(vk)[0] ?? vk;
	if ((proofType === 'risc0' || proofType === 'sp1') && isObject(vk) && typeof vk.image_id === 'string') return vk.image_id;
	return vk;
}
