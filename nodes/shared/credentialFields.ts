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
