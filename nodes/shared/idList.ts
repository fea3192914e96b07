/**
 * Ids typed or mapped into one parameter: separated by commas, semicolons, spaces or new lines, or an
 * array an expression gave; each id once, in the order given. Whether each is a valid id is the
 * service's check.
 */
export function splitIdList(value: unknown): string[] {
	const parts = Array.isArray(value) ? value.map((entry) => String(entry ?? '')) : [String(value ?? '')];
	const ids = parts.flatMap((part) => part.split(/[\s,;]+/)).filter((id) => id.length > 0);
	return [...new Set(ids)];
}
