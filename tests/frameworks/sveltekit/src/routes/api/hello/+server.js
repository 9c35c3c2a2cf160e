import { json } from '@sveltejs/kit';

export function GET({ url }) {
  return json({ greeting: 'hello', name: url.searchParams.get('name') });
}

export async function POST({ request }) {
  const body = await request.json();
  return json({ received: body, length: JSON.stringify(body).length }, { status: 201 });
}
