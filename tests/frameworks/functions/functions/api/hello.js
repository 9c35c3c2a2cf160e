export function onRequestGet({ request, env }) {
  const url = new URL(request.url);
  return Response.json({ greeting: 'hello', name: url.searchParams.get('name'), env: env.GREETING ?? null });
}

export async function onRequestPost({ request }) {
  const body = await request.json();
  return Response.json({ received: body, length: JSON.stringify(body).length }, { status: 201 });
}
