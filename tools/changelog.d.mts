// Types of tools/changelog.mjs for the TypeScript tests.
export function parseChangelog(text: string): { version: string; items: string[] }[];
export function renderChangelog(text: string): string;
export function escapeXml(text: string): string;
