// The OpenAPI document of this gateway, rendered by Swagger UI. "Authorize" takes a bearer
// token (POST /api/auth/login); "Try it out" then sends it with each request.
window.ui = SwaggerUIBundle({
  url: '/api/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  persistAuthorization: false,
  tryItOutEnabled: false,
  // no call to the public validator: the page works offline
  validatorUrl: null,
});
