/** An entry the user named is not in the tenant's list (the web answers 404). */
export class NotFound extends Error {}
