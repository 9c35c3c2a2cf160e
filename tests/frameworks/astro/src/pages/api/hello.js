export function GET({ url }) {
  return Response.json({ greeting: 'hello', name: url.searchParams.get('name') });
}

export async function POST({ request }) {
  const body = await request.json();
  return Response.json({ received: body, length: JSON.stringify(body).length }, { status: 201 });
}
