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
