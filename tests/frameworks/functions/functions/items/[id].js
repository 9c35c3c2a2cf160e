export function onRequestGet({ params }) {
  if (!/^[0-9]+$/.test(params.id)) {
    return new Response('no such item\n', { status: 404, headers: { 'Content-Type': 'text/plain; charset=utf-8' } });
  }
  return new Response(`<!doctype html><h1>Item ${params.id}</h1>\n`, {
    headers: { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' },
  });
}
