// Starts the API playground on /graphiql: GraphiQL over this server's /graphql (the session
// cookie goes along) and /graphql/ws for subscriptions.
(function () {
  var scheme = window.location.protocol === 'https:' ? 'wss://' : 'ws://';
  var fetcher = GraphiQL.createFetcher({
    url: '/graphql',
    subscriptionUrl: scheme + window.location.host + '/graphql/ws',
  });
  ReactDOM.createRoot(document.getElementById('graphiql')).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultEditorToolsVisibility: true,
      forcedTheme: 'dark',
    })
  );
})();
