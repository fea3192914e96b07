/**
 * Secrets (API keys, tokens, JWTs) must never reach items, error messages or logs.
 * Kurier even puts its key in URL paths and query strings, so every text that can carry a URL
 * or a server's echo goes through a redactor built from the credential's secrets.
 */
export type Redactor = (text: string) => string;

export const REDACTED = '[redacted]';

// Query parameters whose values are secrets whatever service they belong to.
const SECRET_QUERY_PARAMS = /([?&](?:api[-_]?key|apikey|token|key|access_token|jwt)=)[^&#\s"']+/gi;

/** Builds a redactor that hides every given secret and any secret-looking query parameter. */
export function createRedactor(secrets: ReadonlyArray<string | undefined | null>): Redactor {
	// Very short values would redact ordinary words; real keys are long.
	const hidden = [...new Set(secrets.filter((s): s is string => typeof s === 'string' && s.length >= 4))]
		// Longest first, so a secret that contains another is hidden whole.
		.sort((a, b) => b.length - a.length);
	const encodedVariants = hidden.flatMap((s) => {
		const encoded = encodeURIComponent(s);
		return encoded === s ? [s] : [s, encoded];
	});
	return (text: string) => {
		let result = text;
		for (const secret of encodedVariants) result = result.split(secret).join(REDACTED);
		return result.replace(SECRET_QUERY_PARAMS, `$1${REDACTED}`);
	};
}

/** Message of any thrown value, redacted. */
export function redactedMessage(error: unknown, redact: Redactor): string {
	const message = error instanceof Error ? error.message : String(error);
	return redact(message);
}
