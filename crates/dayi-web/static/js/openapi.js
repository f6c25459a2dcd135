// Starts Swagger UI on the API's own document.
window.ui = SwaggerUIBundle({ url: "/api/openapi.json", dom_id: "#ui", deepLinking: true });
