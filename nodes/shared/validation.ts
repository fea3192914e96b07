import type { z } from 'zod/v4';

/**
 * Parse options for every zod 4 schema whose issues reach a log line or an error message: a missing
 * field reads "Required" (the wording these messages had under zod 3, and what users and tests
 * know), every other issue keeps zod 4's own message. A message set on the schema itself wins.
 * Per parse rather than `z.config()`, which would change zod for everything else in the process.
 */
export const READABLE_ISSUES: z.core.ParseContext<z.core.$ZodIssue> = {
	error: (issue) => (issue.code === 'invalid_type' && issue.input === undefined ? 'Required' : undefined),
};

/** "path message" of an issue, e.g. `step Required`; `whole` names the value when the path is empty. */
export function describeIssue(issue: z.core.$ZodIssue | undefined, whole: string, separator = ' '): string {
	if (!issue) return `${whole}${separator}invalid`;
	return `${issue.path.map(String).join('.') || whole}${separator}${issue.message}`;
}
