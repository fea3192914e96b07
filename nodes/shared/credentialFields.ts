/** A credential that cannot work whatever the service says (no key, a base URL that is not one). */
export class CredentialError extends Error {
	constructor(message: string) {
		super(message);
		this.name = 'CredentialError';
	}
}

/**
 * A credential's base URL without trailing slashes (and without `stripSuffix`, a path users often
 * paste although the client adds it itself). Throws a CredentialError naming the service when the
 * value is not an http(s) URL; `hint` says what to use instead.
 */
export function httpBaseUrl(value: string, service: string, hint: string, stripSuffix?: RegExp): string {
	const trimmed = value.trim().replace(/\/+$/, '');
	const baseUrl = stripSuffix ? trimmed.replace(stripSuffix, '') : trimmed;
	if (!/^https?:\/\/[^/\s]+/i.test(baseUrl)) {
		throw new CredentialError(`The ${service} credential's base URL "${value}" is not an http(s) URL. ${hint}`);
	}
	return baseUrl;
}

/** The value of a credential's host choice that means "use the Custom Base URL field". */
export const CUSTOM_HOST = 'custom';

/**
 * The URL a Host choice stands for: `custom` → the Custom Base URL (empty: a CredentialError naming
 * `service`); a documented host, or a URL an older credential saved in `baseUrl` itself → itself;
 * nothing → `defaultUrl`.
 */
export function chosenBaseUrl(fields: { baseUrl?: unknown; customBaseUrl?: unknown }, service: string, defaultUrl: string): string {
	const choice = typeof fields.baseUrl === 'string' ? fields.baseUrl.trim() : '';
	if (choice.toLowerCase() !== CUSTOM_HOST) return choice || defaultUrl;
	const custom = typeof fields.customBaseUrl === 'string' ? fields.customBaseUrl.trim() : '';
	if (!custom) throw new CredentialError(`The ${service} credential's Host is Custom but its Custom Base URL is empty. Fill it in, or choose a documented host.`);
	return custom;
}

/** The credential's REST Requests per Second: a positive number, or 0 (not known, learnt). */
export function knownRestRate(value: unknown): number {
	const rate = typeof value === 'string' ? Number(value) : value;
	return typeof rate === 'number' && Number.isFinite(rate) && rate > 0 ? rate : 0;
}
