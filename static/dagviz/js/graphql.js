// GraphQL over HTTP: POST /graphql with the CSRF header; resolves to `data` or throws GraphQLFailure.

import { csrfToken } from "./csrf.js";

export const GRAPHQL_URL = "/graphql";

export class GraphQLFailure extends Error {
  constructor(message, errors = []) {
    super(message);
    this.name = "GraphQLFailure";
    this.errors = errors;
  }
}

export async function graphql(query, variables = {}) {
  let response;
  try {
    response = await fetch(GRAPHQL_URL, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": csrfToken(),
      },
      body: JSON.stringify({ query, variables }),
    });
  } catch (error) {
    throw new GraphQLFailure(`The server cannot be reached (${error.message}).`);
  }
  if (response.status === 401) {
    // The session ended (signed out elsewhere, or expired): sign in again and come back here.
    window.location.assign(`/login?next=${encodeURIComponent(window.location.pathname + window.location.search)}`);
    throw new GraphQLFailure("Signed out: sign in again.");
  }
  let body;
  try {
    body = await response.json();
  } catch {
    throw new GraphQLFailure(`The server answered HTTP ${response.status} without JSON.`);
  }
  if (body.errors && body.errors.length) {
    throw new GraphQLFailure(body.errors.map((error) => error.message).join("; "), body.errors);
  }
  if (!response.ok) throw new GraphQLFailure(`The server answered HTTP ${response.status}.`);
  return body.data;
}
