import * as workflow from 'n8n-workflow';

/**
 * n8n's connection types, from the n8n-workflow that n8n itself loads the package with (a peer import).
 * n8n-workflow has exported `NodeConnectionTypes` since early 2025 (n8n 1.8x; n8n 1.123 and 2.x have
 * it); earlier 1.x releases do not, and a node reading `.Main` of `undefined` would not load there at
 * all. Their value for the main connection is the same string, so that is the fallback.
 */
export const NodeConnectionTypes: { readonly Main: typeof workflow.NodeConnectionTypes.Main } =
	(workflow as Partial<typeof workflow>).NodeConnectionTypes ?? { Main: 'main' };
