// Runs before every function: adds a header to the function's response.
export async function onRequest(context) {
  const response = await context.next();
  const headers = new Headers(response.headers);
  headers.set('X-Middleware', 'yes');
  return new Response(response.body, { status: response.status, headers });
}
