import Conversations
import Hummingbird
import MailboxPull
import Outbound
import Prometheus
import Sieve
import Store

/// The admin HTTP API (openapi.yaml describes it): one controller per resource, each
/// adding its routes to a group. Every `/api` route needs the bearer token; `/metrics`
/// and `/healthz` are open so monitoring can reach them without a secret. Handlers
/// throw the errors of the layers below; APIErrors.swift maps them to a status.
public enum AdminAPI {
    public static func router(
        store: Store, processor: MessageProcessor, replies: Replies, queue: OutboundQueue, adminToken: String, registry: PrometheusCollectorRegistry,
        fallbackDomain: String = "localhost",
        mailboxTester: @escaping @Sendable (ConnectedMailbox) async throws -> MailboxTestResult = { _ in
            throw RequestError.invalid("mailbox testing is not wired in")
        },
        server: ServerOperations = .unwired,
        filters: FilterSet? = nil
    ) -> Router<BasicRequestContext> {
        let queries = ConversationQueries(store: store)
        let people = People(store: store)
        let router = Router()
        let routes = RouteTable()
        router.add(middleware: JSONErrorMiddleware(routes: routes))
        MonitoringController(registry: registry).addRoutes(to: router)

        let api = router.group("api").add(middleware: BearerTokenMiddleware(token: adminToken))
        InboxesController(store: store, people: people, fallbackDomain: fallbackDomain).addRoutes(to: api.group("inboxes"))
        MessagesController(store: store, processor: processor, queries: queries).addRoutes(to: api.group("messages"))
        UsersController(people: people).addRoutes(to: api.group("users"))
        TeamsController(people: people).addRoutes(to: api.group("teams"))
        ConversationsController(queries: queries, actions: ConversationActions(store: store, autoMail: processor.autoMail), replies: replies)
            .addRoutes(to: api.group("conversations"))
        ContactsController(contacts: Contacts(store: store), queries: queries).addRoutes(to: api.group("contacts"))
        QuarantineController(queries: queries).addRoutes(to: api.group("quarantine"))
        QueueController(queue: queue).addRoutes(to: api.group("queue"))
        SuppressionsController(suppressions: Suppressions(store: store)).addRoutes(to: api.group("suppressions"))
        FiltersController(store: store, filters: filters).addRoutes(to: api.group("filters"))
        MailboxesController(mailboxes: ConnectedMailboxes(store: store), tester: mailboxTester).addRoutes(to: api.group("mailboxes"))
        ServerController(operations: server).addRoutes(config: api.group("config"), relay: api.group("relay"))
        routes.set(router.routes)
        return router
    }
}
