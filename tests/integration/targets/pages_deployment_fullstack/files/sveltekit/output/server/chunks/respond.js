export function json(data, status = 200) {
  return new Response(JSON.stringify(data), {
    status,
    headers: { "content-type": "application/json", "x-sveltekit-page": "false" },
  });
}

export function html(status, body) {
  return new Response(`<!doctype html><html><body>${body}</body></html>`, {
    status,
    headers: { "content-type": "text/html", "x-sveltekit-page": "true" },
  });
}
