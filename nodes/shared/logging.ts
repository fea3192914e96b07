/**
 * Whether a logger writes debug lines at all, so a line built per frame or per item is only built
 * when it will be written. n8n hands nodes its own Logger (@n8n/backend-common), which keeps its
 * `level` ('error' | 'warn' | 'info' | 'debug' | 'silent'; 'info' by default) and swaps the methods
 * of the levels below it for no-ops: the line would be formatted and thrown away. A logger without
 * a `level` (a test's, a custom one) is taken to want everything.
 */
export function logsDebug(logger: { debug(message: string): void } | undefined): boolean {
	if (logger === undefined) return false;
	const level = (logger as { level?: unknown }).level;
	return typeof level !== 'string' || level === 'debug';
}
