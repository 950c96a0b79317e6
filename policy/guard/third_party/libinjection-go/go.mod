module github.com/corazawaf/libinjection-go

go 1.24.6
