/// Where an organisation's alerts are posted (`GET /api/webhooks`, and the answer to adding one,
/// which alone carries the signing secret).
public struct WebhookInfo: Sendable, Hashable, Codable {
    /// Its id (`whk_…`).
    public var id: String
    /// The URL alerts are posted to.
    public var url: String
    /// `json` (meterr's signed JSON) or `slack`.
    public var format: String
    /// The signing secret (`whsec_…`): only in the answer that added it.
    public var secret: String?
    /// When it was added.
    public var createdAt: Timestamp

    /// Creates a webhook's description.
    public init(id: String, url: String, format: String, secret: String? = nil, createdAt: Timestamp) {
        self.id = id
        self.url = url
        self.format = format
        self.secret = secret
        self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey {
        case id, url, format, secret
        case createdAt = "created_at"
    }
}

/// `GET /api/webhooks`.
public struct WebhookList: Sendable, Hashable, Codable {
    /// The organisation's webhooks, without their secrets.
    public var webhooks: [WebhookInfo]

    /// Creates a list.
    public init(webhooks: [WebhookInfo]) { self.webhooks = webhooks }
}
